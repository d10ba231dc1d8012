"""A live source that drops: the client reads an HTTP stream that ffmpeg serves on loopback, loses it when the
server dies, reconnects with backoff when a new server comes up, and stops after bounded failed attempts."""
import subprocess
import threading
import time

import numpy as np

from conftest import SR, free_port, tone, write
from temporal_workflow.audio_input import url_blocks


def listening(port: int) -> bool:
    """Is a socket listening on the port? (read from /proc: connecting to probe would use up ffmpeg's one client)"""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    return True
    return False


def serve(path, port):
    """ffmpeg's own HTTP server, in real time (-re), for one client."""
    proc = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-re", "-i", str(path), "-c:a", "pcm_s16le",
                             "-f", "wav", "-listen", "1", f"http://127.0.0.1:{port}/live.wav"])
    deadline = time.monotonic() + 10
    while not listening(port):
        assert time.monotonic() < deadline and proc.poll() is None, "ffmpeg did not start serving"
        time.sleep(0.05)
    return proc


def peak_hz(x):
    return np.fft.rfftfreq(len(x), 1 / SR)[np.argmax(np.abs(np.fft.rfft(x)))]


def test_a_dropped_source_is_reconnected_and_the_audio_goes_on(tmp_path, ffmpeg):
    first, second = write(tmp_path / "a.wav", tone(440, 8.0)), write(tmp_path / "b.wav", tone(880, 3.0))
    port = free_port()
    url = f"http://127.0.0.1:{port}/live.wav"
    blocks, log = [], []
    server = serve(first, port)
    reader = threading.Thread(target=lambda: blocks.extend(
        url_blocks(url, block_s=0.5, first_delay_s=0.5, max_delay_s=2.0, max_failures=3, log=log.append)))
    reader.start()
    deadline = time.monotonic() + 20
    while sum(len(b) for b in blocks) < 3 * SR and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()                                     # the camera goes away mid-stream ...
    server.wait()
    time.sleep(1.2)                                   # ... stays away for a moment ...
    server = serve(second, port)                      # ... and comes back
    reader.join(timeout=30)
    server.kill()
    server.wait()
    assert not reader.is_alive(), "the reader must stop by itself after bounded failures"
    audio = np.concatenate(blocks)
    hz = [peak_hz(b) for b in blocks if len(b) >= SR // 4]
    assert abs(hz[0] - 440) < 10 and abs(hz[-1] - 880) < 10            # before the drop, and after it
    n_first = sum(len(b) for b, h in zip(blocks, hz) if abs(h - 440) < 10)
    assert 2.5 * SR <= n_first < 8 * SR and len(audio) - n_first > 2.0 * SR
    assert any("dropped" in line for line in log) and "giving up" in log[-1]
