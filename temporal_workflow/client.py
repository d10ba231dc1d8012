"""Client: classify a file through Temporal, or stream audio to a stream workflow in real time.

    python -m temporal_workflow.client classify FILE
    python -m temporal_workflow.client stream FILE [--speed 1.0]      # a file played in real time
    ffmpeg -i x.mp3 -f s16le -ac 1 -ar 16000 - | python -m temporal_workflow.client stream -   # raw PCM
    python -m temporal_workflow.client stream --mic [--seconds 60]     # needs the sounddevice package
    python -m temporal_workflow.client stream --url rtsp://camera.local/stream   # any source ffmpeg reads
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path

import numpy as np
from temporalio.client import Client

from crysense.alerts import shipped_rule
from crysense.config import get_paths
from crysense.streaming import StreamChunker, WindowParams

from .shared import DEFAULT_ADDRESS, TASK_QUEUE, AlertParams, ChunkRef, NotifyTargets, StreamState
from .storage import AudioStore
from .workflow import ClassifyClipWorkflow, StreamWorkflow

SR = 16_000


async def classify_file(client: Client, path, audio_store: AudioStore | None = None, task_queue=TASK_QUEUE):
    store = audio_store or AudioStore()
    path = Path(path)
    key = store.put_bytes(path.read_bytes(), path.suffix.lower())
    ref = ChunkRef(stream_id=f"clip-{key[:16]}", index=0, audio_key=key)
    return await client.execute_workflow(ClassifyClipWorkflow.run, ref, id=f"classify-{key[:16]}-{uuid.uuid4().hex[:6]}",
                                         task_queue=task_queue)


async def start_stream(client: Client, stream_id: str, alert: AlertParams = AlertParams(), task_queue=TASK_QUEUE,
                       heartbeat_s: float = 20.0, max_chunks_per_run: int = 200, notify: NotifyTargets = NotifyTargets()):
    state = StreamState(stream_id=stream_id, alert_params=alert, max_chunks_per_run=max_chunks_per_run, notify=notify)
    return await client.start_workflow(StreamWorkflow.run, args=[state, heartbeat_s], id=f"stream-{stream_id}",
                                       task_queue=task_queue)


async def send_window(handle, store: AudioStore, stream_id: str, index: int, start_s: float, samples: np.ndarray):
    """Claim check: the window's samples go to the store, the workflow gets the key."""
    ref = ChunkRef(stream_id, index, store.put_samples(samples), start_s)
    await handle.signal(StreamWorkflow.add_chunk, ref)
    return ref


async def stream_blocks(handle, blocks, window: WindowParams, audio_store: AudioStore | None = None,
                        realtime_speed: float | None = 1.0, on_window=None) -> int:
    """Feed an iterable of sample blocks (1 s each when live) to the stream workflow; returns windows sent.

    ``realtime_speed``: 1.0 plays a file at its real pace, 4.0 four times faster, None as fast as possible."""
    store = audio_store or AudioStore()
    chunker = StreamChunker(window)
    stream_id = handle.id.removeprefix("stream-")
    n = 0
    t0 = time.monotonic()
    fed = 0.0
    blocks = iter(blocks)
    # a live source blocks while it waits for sound (or reconnects): read it in a thread, not in the event loop
    while (block := await asyncio.to_thread(next, blocks, None)) is not None:
        fed += len(block) / SR
        if realtime_speed:
            await asyncio.sleep(max(0.0, t0 + fed / realtime_speed - time.monotonic()))
        for start, x in chunker.push(block):
            ref = await send_window(handle, store, stream_id, n, start, x)
            n += 1
            if on_window:
                on_window(ref)
    for start, x in chunker.flush():
        ref = await send_window(handle, store, stream_id, n, start, x)
        n += 1
        if on_window:
            on_window(ref)
    await handle.signal(StreamWorkflow.end_stream)
    return n


def file_blocks(path, block_s: float = 1.0):
    from crysense.audio import decode
    x = decode(path).samples
    step = int(block_s * SR)
    return (x[i:i + step] for i in range(0, len(x), step))


def pcm_blocks(fileobj, block_s: float = 1.0):
    size = int(block_s * SR) * 2
    pending = b""
    while data := fileobj.read(size):
        data, pending = pending + data, b""
        if len(data) % 2:
            data, pending = data[:-1], data[-1:]
        yield np.frombuffer(data, "<i2").astype(np.float32) / 32768.0


def url_blocks(url: str, block_s: float = 1.0, first_delay_s: float = 1.0, max_delay_s: float = 30.0,
               max_failures: int | None = None, log=print):
    """Blocks of 16 kHz mono audio from anything ffmpeg reads (rtsp://, http://, a device, a file). When the source
    drops or cannot be reached, ffmpeg is started again after a backoff (1 s, 2 s, 4 s ... up to ``max_delay_s``);
    the stream (its windows, alert and stream time) simply goes on. ``max_failures``: stop after this many failed
    attempts in a row (None: never)."""
    import shutil
    import subprocess
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemExit("--url needs ffmpeg (apt-get install -y ffmpeg)")
    failures = 0
    while True:
        proc = subprocess.Popen([ffmpeg, "-nostdin", "-v", "error", "-i", url, "-vn", "-f", "s16le", "-ac", "1",
                                 "-ar", str(SR), "pipe:1"], stdout=subprocess.PIPE)
        got = 0
        try:
            for block in pcm_blocks(proc.stdout, block_s):
                got += len(block)
                failures = 0
                yield block
        finally:
            proc.kill()
            proc.wait()
        failures += 0 if got else 1
        if max_failures is not None and failures >= max_failures:
            log(f"{url}: no audio after {failures} attempts, giving up")
            return
        delay = min(max_delay_s, first_delay_s * 2 ** max(0, failures - 1))
        log(f"{url}: source {'dropped' if got else 'unreachable'}; reconnecting in {delay:g} s")
        time.sleep(delay)


def mic_blocks(seconds: float, block_s: float = 1.0):
    try:
        import sounddevice as sd
    except ImportError:
        raise SystemExit("--mic needs the sounddevice package (pip install sounddevice)") from None
    for _ in range(int(seconds / block_s)):
        yield sd.rec(int(block_s * SR), samplerate=SR, channels=1, dtype="float32", blocking=True)[:, 0]


async def main_async(args) -> int:
    client = await Client.connect(args.address)
    if args.command == "classify":
        for f in args.files:
            outcome = await classify_file(client, f)
            print(json.dumps({"file": f, **outcome.__dict__}), flush=True)
        return 0
    stream_id = args.stream_id or uuid.uuid4().hex[:12]
    shipped = shipped_rule(os.environ.get("CRYSENSE_MODELS") or get_paths().models)
    rule = AlertParams(n=shipped.n if args.alert_n is None else args.alert_n,
                       m=shipped.m if args.alert_m is None else args.alert_m,
                       threshold=shipped.threshold if args.threshold is None else args.threshold)
    handle = await start_stream(client, stream_id, rule, notify=NotifyTargets(args.webhook or "", args.mqtt or ""))
    if args.mic:
        blocks, speed = mic_blocks(args.seconds), None
    elif args.url:
        blocks, speed = url_blocks(args.url, max_failures=args.max_failures), None
    elif args.source == "-":
        blocks, speed = pcm_blocks(sys.stdin.buffer), None
    else:
        blocks, speed = file_blocks(args.source), args.speed
    n = await stream_blocks(handle, blocks, WindowParams(args.window, args.hop), realtime_speed=speed,
                            on_window=lambda r: print(f"sent window {r.index} at {r.start_s:.1f} s", flush=True))
    summary = await handle.result()
    print(json.dumps({"stream": stream_id, "windows": n, **summary.__dict__}, indent=1), flush=True)
    return 0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="crysense Temporal client")
    ap.add_argument("--address", default=DEFAULT_ADDRESS)
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("classify")
    c.add_argument("files", nargs="+")
    s = sub.add_parser("stream")
    s.add_argument("source", nargs="?", default="-", help="audio file, or - for raw 16 kHz s16le PCM on stdin")
    s.add_argument("--mic", action="store_true")
    s.add_argument("--url", help="a live source ffmpeg reads (rtsp://camera/..., http://..., a device); reconnects with "
                   "backoff when it drops")
    s.add_argument("--max-failures", type=int, help="with --url: stop after this many failed reconnects in a row "
                   "(default: keep trying)")
    s.add_argument("--seconds", type=float, default=60.0, help="with --mic: how long to listen")
    s.add_argument("--speed", type=float, default=1.0, help="file playback speed (1.0 = real time)")
    s.add_argument("--window", type=float, default=10.0)
    s.add_argument("--hop", type=float, default=5.0)
    s.add_argument("--alert-n", type=int, help="alert on when n of the last m windows count (default: the models' "
                   "operating point, models/operating_point.json, else 2)")
    s.add_argument("--alert-m", type=int, help="... of the last m windows (default: the operating point, else 3)")
    s.add_argument("--threshold", type=float, help="p(crying) a window needs to count (default: the operating "
                   "point, else 0.5)")
    s.add_argument("--stream-id")
    s.add_argument("--webhook", default=os.environ.get("CRYSENSE_WEBHOOK"),
                   help="POST each alert on/off event here as JSON (default: $CRYSENSE_WEBHOOK)")
    s.add_argument("--mqtt", default=os.environ.get("CRYSENSE_MQTT"),
                   help="publish alert events to mqtt://host:port/topic-prefix: <prefix>/<stream>/event and a retained "
                        "<prefix>/<stream>/state ON/OFF for Home Assistant (default: $CRYSENSE_MQTT)")
    args = ap.parse_args(argv)
    code = asyncio.run(main_async(args))
    sys.stdout.flush()
    # a short-lived client can crash at interpreter exit after printing (a known temporalio issue)
    os._exit(code)


if __name__ == "__main__":
    main()
