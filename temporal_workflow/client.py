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
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from crysense.config import AUDIO, get_paths
from crysense.serving.alerts import shipped_rule
from crysense.serving.streaming import StreamChunker, WindowParams

from .activities import MAX_CHUNK_S
from .audio_input import file_blocks, mic_blocks, pcm_blocks, url_blocks
from .shared import DEFAULT_ADDRESS, TASK_QUEUE, AlertParams, ChunkRef, NotifyTargets, StreamState
from .storage import RUNTIME, AudioStore, open_audio_store
from .workflow import ClassifyClipWorkflow, StreamWorkflow


class ClipError(Exception):
    """A file the service cannot classify, named as the user gave it."""


async def classify_file(client: Client, path, audio_store: AudioStore | None = None, task_queue=TASK_QUEUE):
    """One file through the ClassifyClipWorkflow. Refused before anything is stored: a missing path, a folder, and a
    file longer than a chunk may be (``python -m temporal_workflow.client stream`` takes long recordings)."""
    from crysense.data.audio import AudioError, decode
    path = Path(path)
    if not path.exists():
        raise ClipError(f"{path}: no such file")
    if path.is_dir():
        raise ClipError(f"{path}: is a folder, not an audio file")
    try:
        duration = decode(path).duration_s
    except AudioError as e:
        raise ClipError(f"{path}: {e.reason}") from None
    if duration > MAX_CHUNK_S:
        raise ClipError(f"{path}: {duration:.1f} s is longer than a chunk ({MAX_CHUNK_S:g} s); stream it instead")
    store = audio_store or open_audio_store()
    key = store.put_bytes(path.read_bytes(), path.suffix.lower())
    ref = ChunkRef(stream_id=f"clip-{key[:16]}", index=0, audio_key=key, name=path.name)
    return await retrying(lambda: client.execute_workflow(
        ClassifyClipWorkflow.run, ref, id=f"classify-{key[:16]}-{uuid.uuid4().hex[:6]}", task_queue=task_queue),
        f"classify {path.name}")


def _retryable(err: RPCError) -> bool:
    return err.status not in (RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.NOT_FOUND, RPCStatusCode.ALREADY_EXISTS,
                              RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNAUTHENTICATED)


async def retrying(call, what: str, first_delay_s: float = 0.5, max_delay_s: float = 10.0, log=None):
    """``await call()``, retried with backoff for as long as the server cannot be reached (it may be restarting)."""
    delay = first_delay_s
    while True:
        try:
            return await call()
        except RPCError as e:
            if not _retryable(e):
                raise
            (log or _log)(f"Temporal unreachable ({what}): {e.message or e.status}; retrying in {delay:g} s")
            await asyncio.sleep(delay)
            delay = min(max_delay_s, delay * 2)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


async def start_stream(client: Client, stream_id: str, alert: AlertParams = AlertParams(), task_queue=TASK_QUEUE,
                       max_chunks_per_run: int = 200, notify: NotifyTargets = NotifyTargets(),
                       idle_timeout_s: float = 600.0):
    """Start the stream workflow, or attach to it if a stream of this id is running (a client that restarts
    resumes its stream: its alert state, chunk numbering and stream time go on)."""
    state = StreamState(stream_id=stream_id, alert_params=alert, max_chunks_per_run=max_chunks_per_run, notify=notify,
                        idle_timeout_s=idle_timeout_s)
    return await retrying(lambda: client.start_workflow(
        StreamWorkflow.run, state, id=f"stream-{stream_id}", task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING), f"start stream {stream_id}")


class Outbox:
    """Windows waiting to be signalled, kept on disk in order (bounded): while the server is down, nothing the
    client has heard is lost, and a client restarted with the same stream id sends what an earlier one left. When
    full, the oldest window is dropped (a monitor wants the freshest audio) and said so."""

    def __init__(self, folder, max_windows: int = 720, log=_log):
        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_windows, self.log = max_windows, log

    def _files(self) -> list[Path]:
        return sorted(self.dir.glob("*.json"))

    def __len__(self) -> int:
        return len(self._files())

    def put(self, ref: ChunkRef) -> None:
        tmp = self.dir / f"{ref.index:09d}.tmp"
        tmp.write_text(json.dumps(ref.__dict__))
        os.replace(tmp, self.dir / f"{ref.index:09d}.json")
        files = self._files()
        for f in files[: max(0, len(files) - self.max_windows)]:
            f.unlink(missing_ok=True)
            self.log(f"outbox full ({self.max_windows} windows): dropped window {int(f.stem)}")

    def next_index(self) -> int | None:
        files = self._files()
        return int(files[-1].stem) + 1 if files else None

    def oldest(self) -> ChunkRef | None:
        files = self._files()
        return ChunkRef(**json.loads(files[0].read_text())) if files else None

    def done(self, ref: ChunkRef) -> None:
        (self.dir / f"{ref.index:09d}.json").unlink(missing_ok=True)


async def resume_point(handle) -> tuple[int, float]:
    """(next chunk index, stream time of the last chunk the workflow received, -1 if none)."""
    status = await retrying(lambda: handle.query(StreamWorkflow.status), "stream status")
    return status.last_index + 1, status.last_received_s


async def stream_blocks(handle, blocks, window: WindowParams, audio_store: AudioStore | None = None,
                        realtime_speed: float | None = 1.0, on_window=None, outbox: Outbox | None = None,
                        end: bool = True) -> int:
    """Feed an iterable of sample blocks (1 s each when live) to the stream workflow; returns windows sent.

    ``realtime_speed``: 1.0 plays a file at its real pace, 4.0 four times faster, None as fast as possible.
    Windows go through the ``outbox`` (default: ``runtime/outbox/<stream>``): a sender task signals them in order and
    keeps retrying with backoff while the server is down, so reading the source never waits for the server.
    A stream that already holds chunks (resumed) goes on after its last index and stream time. ``end``: signal the
    end of the stream when the blocks run out (False: another client may resume it)."""
    store = audio_store or open_audio_store()
    stream_id = handle.id.removeprefix("stream-")
    outbox = outbox or Outbox(RUNTIME / "outbox" / stream_id)
    first, last_s = await resume_point(handle)
    if (after := outbox.next_index()) is not None:   # an earlier client's unsent windows go first
        first = max(first, after)
    chunker = StreamChunker(window)
    offset = last_s + window.hop_s if last_s >= 0 else 0.0
    wake, finished = asyncio.Event(), False

    async def sender():
        while True:
            ref = outbox.oldest()
            if ref is None:
                if finished:
                    return
                wake.clear()
                await wake.wait()
                continue
            await retrying(lambda r=ref: handle.signal(StreamWorkflow.add_chunk, r), f"window {ref.index}")
            outbox.done(ref)
            if on_window:
                on_window(ref)

    def queue(start: float, x: np.ndarray) -> None:
        nonlocal n
        outbox.put(ChunkRef(stream_id, first + n, store.put_samples(x, unique=True), round(offset + start, 3)))
        n += 1
        wake.set()

    n = 0
    task = asyncio.create_task(sender())
    t0, fed = time.monotonic(), 0.0
    blocks = iter(blocks)
    # a live source blocks while it waits for sound (or reconnects): read it in a thread, not in the event loop
    while (block := await asyncio.to_thread(next, blocks, None)) is not None:
        fed += len(block) / AUDIO.sample_rate
        if realtime_speed:
            await asyncio.sleep(max(0.0, t0 + fed / realtime_speed - time.monotonic()))
        for start, x in chunker.push(block):
            queue(start, x)
    for start, x in chunker.flush():
        queue(start, x)
    finished = True
    wake.set()
    await task
    if end:
        await retrying(lambda: handle.signal(StreamWorkflow.end_stream), "end of stream")
    return n


async def stream_result(handle):
    """The stream's summary, waiting through server restarts."""
    return await retrying(lambda: handle.result(), "stream result")


async def main_async(args) -> int:
    client = await Client.connect(args.address, lazy=True)   # connects on first use; calls retry while it is down
    store = open_audio_store(args.audio_store)
    if args.command == "classify":
        failed = 0
        for f in args.files:
            try:
                outcome = await classify_file(client, f, store)
            except ClipError as e:
                failed += 1
                print(f"error: {e}", file=sys.stderr, flush=True)
                continue
            failed += bool(outcome.error)
            print(json.dumps({"file": f, **outcome.__dict__}), flush=True)
        return 1 if failed else 0   # like the CLI: 1 when any file could not be classified
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
    n = await stream_blocks(handle, blocks, WindowParams(args.window, args.hop), store, realtime_speed=speed,
                            on_window=lambda r: print(f"sent window {r.index} at {r.start_s:.1f} s", flush=True))
    summary = await stream_result(handle)
    print(json.dumps({"stream": stream_id, "windows": n, **summary.__dict__}, indent=1), flush=True)
    return 0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="crysense Temporal client")
    ap.add_argument("--address", default=DEFAULT_ADDRESS)
    ap.add_argument("--audio-store", help="where chunks go: a folder or s3://bucket/prefix, the workers' store "
                    "(default: $CRYSENSE_AUDIO_STORE, else runtime/audio)")
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
