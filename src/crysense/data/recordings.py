"""The same recording under another name or encoding (a Freesound upload reposted by two collections, a
clip cut from a longer take): found by comparing decoded audio, since the bytes and even the decoded
samples differ between encodings.

The score is the peak normalised cross-correlation of the two waveforms, band-limited to 2 kHz (4 kHz
sample rate: what survives any codec), with the shorter slid along the longer (up to 20 % of it may hang
over either end: encoders add priming samples). A re-encoded copy (AAC at 22 kHz, gain changed, trimmed)
scores ~0.9; two different screams score below 0.3.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict

import numpy as np
import soxr

from ..config import AUDIO, AudioParams
from .audio import AudioCache
from .sources import SOURCES

MATCH_RATE = 4000
SAME_RECORDING_MIN_SCORE = 0.7


def match_signal(samples: np.ndarray, sample_rate: int = AUDIO.sample_rate) -> np.ndarray:
    """What the comparison sees: mono at 4 kHz, mean removed, float64."""
    y = soxr.resample(np.asarray(samples, np.float32), sample_rate, MATCH_RATE).astype(np.float64)
    return y - y.mean()


def same_recording_score(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(peak normalised cross-correlation in [0, 1], offset of the shorter signal in the longer in seconds)
    of two ``match_signal`` outputs."""
    from scipy.signal import fftconvolve
    if len(a) > len(b):
        a, b = b, a
    if len(a) < MATCH_RATE // 10:
        return 0.0, 0.0
    margin = int(min(MATCH_RATE, 0.2 * len(a)))
    padded = np.pad(b, margin)
    num = fftconvolve(padded, a[::-1], mode="valid")
    cum_b = np.concatenate([[0.0], np.cumsum(padded * padded)])
    energy_b = cum_b[len(a):] - cum_b[:-len(a)]
    # energy of the part of ``a`` that overlaps ``b`` at each lag (the rest lies over the zero padding)
    lag = np.arange(len(num))
    cum_a = np.concatenate([[0.0], np.cumsum(a * a)])
    lo, hi = np.clip(margin - lag, 0, len(a)), np.clip(margin + len(b) - lag, 0, len(a))
    energy_a = cum_a[hi] - cum_a[lo]
    valid = (energy_a > 0.5 * cum_a[-1]) & (energy_b > 1e-4 * cum_b[-1] * len(a) / len(b))
    r = np.where(valid, num / np.sqrt(np.maximum(energy_a * energy_b, 1e-30)), 0.0)
    k = int(np.argmax(np.abs(r)))
    return float(abs(r[k])), (k - margin) / MATCH_RATE


@dataclasses.dataclass(frozen=True)
class SameRecording:
    first: str       # manifest file paths
    second: str
    score: float
    offset_s: float


def find_same_recordings(signals: dict[str, np.ndarray], pairs, min_score: float = SAME_RECORDING_MIN_SCORE
                         ) -> list[SameRecording]:
    """Every pair (file paths into ``signals``, ``match_signal`` outputs) that holds the same recording."""
    out = []
    for a, b in pairs:
        score, offset = same_recording_score(signals[a], signals[b])
        if score >= min_score:
            out.append(SameRecording(a, b, round(score, 3), round(offset, 3)))
    return out


def merge_groups(groups: dict[str, str], matches: list[SameRecording]) -> dict[str, str]:
    """File path -> group, with the groups of matched files joined (union-find; the smallest name wins)."""
    parent: dict[str, str] = {}

    def find(g):
        while parent.get(g, g) != g:
            g = parent[g]
        return g

    for m in matches:
        ga, gb = find(groups[m.first]), find(groups[m.second])
        if ga != gb:
            parent[max(ga, gb)] = min(ga, gb)
    return {f: find(g) for f, g in groups.items()}


def join_same_recordings(kept, cache_dir, params: AudioParams):
    """Sources that may repost each other's recordings (``Source.same_recordings_as``) are compared by decoded
    audio, file against file of the same label; the groups of a matching pair are joined, so the copies never
    stand on both sides of a split (and a source held out for leave-one-source-out takes its copies along)."""
    by_source = defaultdict(list)
    for it, _ in kept:
        by_source[it.source].append(it)
    pairs = []
    for name, items in by_source.items():
        for other in SOURCES[name].same_recordings_as:
            targets = by_source.get(other, [])
            pairs += [(a, b) for a in items for b in targets
                      if a.label == b.label and (other != name or a.rel_path < b.rel_path)]
    if not pairs:
        return kept, []
    cache = AudioCache(cache_dir, params)
    involved = {it.rel_path: it for pair in pairs for it in pair}
    signals = {p: match_signal(cache.decode(it.path).samples, params.sample_rate) for p, it in involved.items()}
    matches = find_same_recordings(signals, [(a.rel_path, b.rel_path) for a, b in pairs])
    groups = merge_groups({it.rel_path: it.group for it, _ in kept}, matches)
    return [(dataclasses.replace(it, group=groups[it.rel_path]), res) for it, res in kept], matches
