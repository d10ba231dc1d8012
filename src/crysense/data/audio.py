"""Decode any supported recording to mono float32 at 16 kHz, validate it, cut it into clips.

Every format goes through the same path (native decode -> float -> mono mean -> soxr resample), so that
no class gets its own resampler: bandwidth differences must come from the recordings, not from us.
WAV/FLAC/OGG are read by libsndfile; 3gp (AMR), caf (IMA-ADPCM), mp3, m4a ... by FFmpeg's libraries in-process (PyAV).
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ..config import AUDIO, AudioParams

SNDFILE_SUFFIXES = {".wav", ".flac", ".ogg", ".aiff", ".aif"}
DECODER_VERSION = "2"   # bump to invalidate the decoded-audio cache


class AudioError(ValueError):
    """A recording that cannot be used; the message names the file and the reason."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclasses.dataclass
class Decoded:
    samples: np.ndarray      # mono float32 at ``sample_rate``
    sample_rate: int
    orig_sample_rate: int
    channels: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_atomic(path: Path, write) -> None:
    """``write(tmp)`` (e.g. ``np.save``/``np.savez``) into a file of this process, then rename it to ``path``: a run
    killed while writing, or another process writing the same entry, never leaves a half-written cache entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp{path.suffix}")
    write(tmp)
    os.replace(tmp, path)


def samples_sha256(samples: np.ndarray) -> str:
    """Content hash of decoded audio: the same sound in two encodings of equal samples matches."""
    return hashlib.sha256(np.ascontiguousarray(samples, dtype=np.float32).tobytes()).hexdigest()


def _read_sndfile(path: Path) -> tuple[np.ndarray, int]:
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return data, sr


_SCALE = {"s16": 2.0 ** 15, "s32": 2.0 ** 31, "flt": 1.0, "dbl": 1.0}   # u8 (offset binary) is its own case


def _frame_samples(frame) -> np.ndarray:
    """One decoded frame as float32 (samples, channels), converted as ffmpeg's pcm_f32le output does."""
    arr = frame.to_ndarray()
    fmt = frame.format.name
    arr = arr.T if frame.format.is_planar else arr.reshape(-1, frame.layout.nb_channels)
    base = fmt.rstrip("p")
    if base == "u8":
        return ((arr.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    if base not in _SCALE:
        raise ValueError(f"sample format {fmt}")
    return (arr.astype(np.float32) / np.float32(_SCALE[base])).astype(np.float32)


def _read_av(path: Path) -> tuple[np.ndarray, int]:
    """Decode in-process with PyAV (its wheel ships FFmpeg 8): no process per file, and its AMR-NB decoder reads
    every frame of a multi-frame packet, where Debian's FFmpeg 5.1 kept only the first (a few Donate-a-Cry
    files came out at 1/6 of their length)."""
    # imported here, not with the module: it costs 0.4 s, and most callers (inference, the worker) read WAV only
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioError(path, "not decodable audio (no audio stream)")
            stream = container.streams.audio[0]
            chunks = [_frame_samples(f) for f in container.decode(stream)]
            sr = stream.codec_context.sample_rate
    except av.FFmpegError as e:
        raise AudioError(path, f"not decodable audio (FFmpeg: {e.strerror or e})") from None
    if not chunks:   # e.g. text that FFmpeg's probe took for a raw stream
        raise AudioError(path, "not decodable audio (no audio frames)")
    return np.concatenate(chunks), int(sr)


def decode(path, params: AudioParams = AUDIO) -> Decoded:
    """Decode ``path`` to mono float32 at ``params.sample_rate``. Raises AudioError with the reason."""
    path = Path(path)
    if not path.exists():
        raise AudioError(path, "file not found")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    try:
        if path.suffix.lower() in SNDFILE_SUFFIXES:
            try:
                data, sr = _read_sndfile(path)
            except (sf.LibsndfileError, RuntimeError, ValueError):
                data, sr = _read_av(path)   # e.g. a WAV holding a codec libsndfile lacks
        else:
            data, sr = _read_av(path)
    except AudioError:
        raise
    except Exception as e:  # noqa: BLE001 - any decoder failure is a property of the file
        raise AudioError(path, f"not decodable audio ({type(e).__name__}: {e})") from None
    if data.size == 0:
        raise AudioError(path, "no audio samples")
    if not np.all(np.isfinite(data)):
        raise AudioError(path, "non-finite sample values")
    channels = data.shape[1]
    mono = data.mean(axis=1) if channels > 1 else data[:, 0]
    if sr != params.sample_rate:
        mono = soxr.resample(mono, sr, params.sample_rate, quality="HQ")
    mono = np.clip(mono, -1.0, 1.0).astype(np.float32)
    return Decoded(mono, params.sample_rate, int(sr), int(channels))


def rms_dbfs(samples: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0
    return 20.0 * np.log10(max(rms, 1e-10))


def check_clip(samples: np.ndarray, path, params: AudioParams = AUDIO,
               min_s: float | None = None, max_s: float | None = None) -> None:
    """Raise AudioError if a clip is too short, too long (when ``max_s`` is given) or near-silent."""
    sr = params.sample_rate
    min_s = params.min_clip_s if min_s is None else min_s
    duration = len(samples) / sr
    if duration < min_s:
        raise AudioError(path, f"too short ({duration:.2f} s < {min_s:g} s)")
    if max_s is not None and duration > max_s:
        raise AudioError(path, f"too long ({duration:.2f} s > {max_s:g} s)")
    level = rms_dbfs(samples)
    if level < params.silence_dbfs:
        raise AudioError(path, f"near-silent ({level:.1f} dBFS < {params.silence_dbfs:g} dBFS)")


def segment_bounds(duration_s: float, params: AudioParams = AUDIO) -> list[tuple[float, float]]:
    """Cut a recording into clips of ``max_clip_s`` at most.

    Up to ``max_clip_s`` the whole recording is one clip. Longer ones are cut into ``segment_s``
    pieces; a tail shorter than ``min_segment_s`` is added to the previous piece (so every piece of a
    long recording lasts between ``min_segment_s`` and ``segment_s + min_segment_s``).
    """
    if duration_s <= params.max_clip_s:
        return [(0.0, round(duration_s, 4))]
    n_full = int(duration_s // params.segment_s)
    bounds = [(i * params.segment_s, (i + 1) * params.segment_s) for i in range(n_full)]
    tail = duration_s - n_full * params.segment_s
    if tail >= params.min_segment_s:
        bounds.append((n_full * params.segment_s, duration_s))
    elif tail > 0:
        bounds[-1] = (bounds[-1][0], duration_s)
    return [(round(a, 4), round(b, 4)) for a, b in bounds]


def pad_to(samples: np.ndarray, seconds: float, sample_rate: int = AUDIO.sample_rate) -> np.ndarray:
    """Zero-pad (centred) a short clip to ``seconds``; longer clips are returned unchanged."""
    n = int(round(seconds * sample_rate))
    if len(samples) >= n:
        return samples
    left = (n - len(samples)) // 2
    return np.pad(samples, (left, n - len(samples) - left)).astype(np.float32)


class AudioCache:
    """Decoded audio cached by the content of the source file, so re-runs skip decoding."""

    def __init__(self, cache_dir, params: AudioParams = AUDIO):
        self.dir = Path(cache_dir) / f"audio_v{DECODER_VERSION}_{params.sample_rate}"
        self.params = params

    def _entry(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.npz"

    def decode(self, path) -> Decoded:
        path = Path(path)
        if not path.exists():
            raise AudioError(path, "file not found")
        entry = self._entry(file_sha256(path))
        if entry.exists():
            with np.load(entry) as z:
                return Decoded(z["samples"], self.params.sample_rate, int(z["orig_sr"]),
                               int(z["channels"]))
        decoded = decode(path, self.params)
        save_atomic(entry, lambda tmp: np.savez(tmp, samples=decoded.samples, orig_sr=decoded.orig_sample_rate,
                                                channels=decoded.channels))
        return decoded


def band_limit(samples: np.ndarray, sample_rate: int = AUDIO.sample_rate, to_rate: int = 8000) -> np.ndarray:
    """Round-trip through ``to_rate`` (8 kHz: nothing above 4 kHz survives), as phone audio sounds.

    Used as augmentation for every class and for the bandwidth ablation: a model that learned
    "no energy above 4 kHz means crying" fails once every clip sounds like Donate-a-Cry's phones.
    """
    low = soxr.resample(samples, sample_rate, to_rate, quality="HQ")
    return soxr.resample(low, to_rate, sample_rate, quality="HQ")[: len(samples)].astype(np.float32)
