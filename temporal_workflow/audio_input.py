"""Where a stream's audio comes from: a file, raw PCM on a pipe, anything ffmpeg reads (a camera's RTSP stream,
reconnecting when it drops), a microphone. Each yields float blocks of 16 kHz mono audio."""
from __future__ import annotations

import time

from crysense.config import AUDIO
from crysense.serving.streaming import pcm_blocks

SR = AUDIO.sample_rate
__all__ = ["file_blocks", "mic_blocks", "pcm_blocks", "url_blocks"]


def file_blocks(path, block_s: float = 1.0):
    from crysense.data.audio import decode
    x = decode(path).samples
    step = int(block_s * SR)
    return (x[i:i + step] for i in range(0, len(x), step))


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
