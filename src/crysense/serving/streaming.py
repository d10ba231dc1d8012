"""Cut audio into the 5-15 s windows the classifier sees: whole recordings (``window_bounds``) and live
streams that arrive in pieces of any size (``StreamChunker``)."""
from __future__ import annotations

import dataclasses

import numpy as np

from ..config import AUDIO


@dataclasses.dataclass(frozen=True)
class WindowParams:
    window_s: float = 10.0
    hop_s: float = 5.0

    def __post_init__(self):
        if not 5.0 <= self.window_s <= 15.0:
            raise ValueError(f"window_s must be within 5-15 s, got {self.window_s}")
        if not 0 < self.hop_s <= self.window_s:
            raise ValueError(f"hop_s must be in (0, window_s], got {self.hop_s}")


def window_bounds(n_samples: int, params: WindowParams = WindowParams(),
                  sample_rate: int = AUDIO.sample_rate) -> list[tuple[int, int]]:
    """Sample bounds of windows covering a recording: ``window_s`` long every ``hop_s``; a recording shorter
    than a window is one window; a tail the hops miss gets a last window ending at the end."""
    win, hop = int(params.window_s * sample_rate), int(params.hop_s * sample_rate)
    if n_samples <= win:
        return [(0, n_samples)]
    bounds = [(a, a + win) for a in range(0, n_samples - win + 1, hop)]
    if bounds[-1][1] < n_samples:
        bounds.append((n_samples - win, n_samples))
    return bounds


class StreamChunker:
    """Accumulates a live stream; ``push`` returns every window completed by the new samples.

    Windows start every ``hop_s`` from the stream's start; ``flush`` returns what remains at the end
    (at least ``min_tail_s``), so a stream that stops mid-window is not silently dropped.
    """

    def __init__(self, params: WindowParams = WindowParams(), sample_rate: int = AUDIO.sample_rate,
                 min_tail_s: float = AUDIO.min_clip_s):
        self.win, self.hop = int(params.window_s * sample_rate), int(params.hop_s * sample_rate)
        self.min_tail = int(min_tail_s * sample_rate)
        self.sample_rate = sample_rate
        self.buffer = np.zeros(0, np.float32)
        self.offset = 0            # stream position (samples) of buffer[0]
        self.emitted_to = 0        # stream position up to which windows have covered the audio

    def push(self, samples: np.ndarray) -> list[tuple[float, np.ndarray]]:
        """New samples in; [(window start in seconds, window samples), ...] out."""
        self.buffer = np.concatenate([self.buffer, np.asarray(samples, np.float32)])
        out = []
        while len(self.buffer) >= self.win:
            out.append((self.offset / self.sample_rate, self.buffer[: self.win].copy()))
            self.emitted_to = self.offset + self.win
            self.buffer = self.buffer[self.hop:]
            self.offset += self.hop
        return out

    def flush(self) -> list[tuple[float, np.ndarray]]:
        end = self.offset + len(self.buffer)
        if end - self.emitted_to < self.min_tail or len(self.buffer) == 0:
            return []
        start = max(0, len(self.buffer) - self.win)
        window = self.buffer[start:].copy()
        self.buffer = np.zeros(0, np.float32)
        self.emitted_to = end
        return [((self.offset + start) / self.sample_rate, window)]


def pcm_blocks(fileobj, block_s: float = 1.0, sample_rate: int = AUDIO.sample_rate, first: bytes = b""):
    """Float blocks of raw 16-bit little-endian mono PCM read from ``fileobj`` (a pipe: reads return what has
    arrived), ``first`` being bytes already read from it. An odd byte waits for its pair; one left at the end is
    dropped."""
    size = int(block_s * sample_rate) * 2
    pending = first
    while True:
        data = fileobj.read(size)
        end = not data
        data, pending = pending + data, b""
        if len(data) % 2:
            data, pending = data[:-1], data[-1:]
        if data:
            yield np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
        if end:
            return
