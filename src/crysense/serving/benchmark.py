"""Speed figures measured on this machine (reported, never asserted)."""
from __future__ import annotations

import time

import numpy as np

from ..config import AUDIO


def real_time_factor(predict, seconds: float = 10.0, repeats: int = 5, sr: int = AUDIO.sample_rate) -> dict:
    """Seconds of compute per second of audio for ``predict(waveform)`` (after one warm-up call)."""
    x = (0.1 * np.random.default_rng(0).standard_normal(int(seconds * sr))).astype(np.float32)
    predict(x)
    t0 = time.perf_counter()
    for _ in range(repeats):
        predict(x)
    per_clip = (time.perf_counter() - t0) / repeats
    return {"clip_s": seconds, "compute_s_per_clip": per_clip, "real_time_factor": per_clip / seconds}
