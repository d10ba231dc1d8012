"""Training-time augmentation that hides the corpus: a cry should sound like a cry whatever the room,
microphone, codec and background, so every class gets the same treatment.

One augmented *view* of a clip applies, each with its own chance (``AugmentParams``):
1. a short time shift (up to ``shift_s``: a bit cut from, or silence added to, the start);
2. reverberation: convolution with a simulated room impulse response (pyroomacoustics' image-source
   model, shoebox rooms of living-room to nursery size, RT60 0.2-0.7 s), a bank drawn once and cached;
3. a background: a *normal* training clip (never validation/test audio, never the clip's own group; a source
   drawn first, then one of its clips) mixed in at a random SNR of 0-20 dB;
4. a channel: an 8 kHz round trip (phone bandwidth) or a lossy codec round trip through ffmpeg: GSM 06.10
   (8 kHz phone speech; Debian's ffmpeg decodes AMR but has no AMR encoder, GSM is the closest phone codec it
   encodes), MP3 at 32 kbit/s, Opus at 16 kbit/s;
5. a gain of -12..+6 dB (peak kept below full scale: no clipping of one class's loud clips).

Views are drawn once per (clip, view index) from a seeded generator and cached with the model inputs they
feed (``views`` per clip); each training epoch shows one of the clip's versions (the original or a view) at
random. Drawing views ahead is what makes augmentation affordable on 2 CPU cores, where the frozen YAMNet
trunk or Wav2Vec2 front-end of every version is computed once and reused by every epoch and every
leave-one-source-out fold.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np

from ..config import AUDIO
from .audio import band_limit, save_atomic

CODECS = {   # name -> (ffmpeg encoder arguments, container format, sample rate the codec runs at)
    "gsm": (["-c:a", "libgsm"], "gsm", 8000),
    "mp3": (["-c:a", "libmp3lame", "-b:a", "32k"], "mp3", 16000),
    "opus": (["-c:a", "libopus", "-b:a", "16k"], "ogg", 16000),
}


@dataclasses.dataclass(frozen=True)
class AugmentParams:
    views: int = 3                    # augmented versions drawn per training clip
    shift_prob: float = 0.5
    shift_s: float = 0.5
    reverb_prob: float = 0.5
    rt60_s: tuple = (0.2, 0.7)
    n_rooms: int = 48                 # impulse responses in the bank
    mix_prob: float = 0.7
    snr_db: tuple = (0.0, 20.0)
    band_limit_prob: float = 0.2      # 8 kHz round trip ...
    codec_prob: float = 0.3           # ... or a codec round trip (exclusive: one channel per view)
    gain_db: tuple = (-12.0, 6.0)
    seed: int = 0

    @classmethod
    def for_run(cls, smoke: bool) -> "AugmentParams":
        """The study's augmentation; a smoke run draws one view per clip from a small bank of rooms (every code path
        runs, with a fraction of the work)."""
        return cls(views=1, n_rooms=8) if smoke else cls()

    def key(self) -> str:
        """Identifies the augmentation (cache entries of views drawn under other parameters never mix)."""
        return hashlib.sha256(json.dumps(dataclasses.asdict(self), sort_keys=True).encode()).hexdigest()[:12]


# --- room impulse responses --------------------------------------------------------------------------------


def room_impulse_responses(params: AugmentParams, cache_dir=None, sample_rate: int = AUDIO.sample_rate) -> list[np.ndarray]:
    """A seeded bank of simulated RIRs (shoebox rooms 3-7 x 3-6 x 2.4-3.2 m, source and microphone at least
    0.5 m from the walls), normalised to unit energy; cached as one .npz."""
    cache = Path(cache_dir) / "augment" / f"rirs_{params.n_rooms}_{params.rt60_s}_{params.seed}.npz" if cache_dir else None
    if cache is not None and cache.exists():
        with np.load(cache) as z:
            return [z[k] for k in sorted(z.files, key=int)]
    import pyroomacoustics as pra
    rng = np.random.default_rng(params.seed + 7)
    rirs = []
    for _ in range(params.n_rooms):
        dims = rng.uniform([3.0, 3.0, 2.4], [7.0, 6.0, 3.2])
        rt60 = rng.uniform(*params.rt60_s)
        absorption, max_order = pra.inverse_sabine(rt60, dims)
        room = pra.ShoeBox(dims, fs=sample_rate, materials=pra.Material(absorption), max_order=max_order)
        room.add_source(rng.uniform(0.5, dims - 0.5))
        room.add_microphone(rng.uniform(0.5, dims - 0.5))
        room.compute_rir()
        h = np.asarray(room.rir[0][0], np.float64)
        h = h[np.argmax(np.abs(h)) - min(np.argmax(np.abs(h)), 40):]   # start just before the direct path
        rirs.append((h / np.sqrt(np.sum(h * h))).astype(np.float32))
    if cache is not None:
        save_atomic(cache, lambda tmp: np.savez(tmp, **{str(i): h for i, h in enumerate(rirs)}))
    return rirs


def reverberate(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve with ``rir``, same length as ``x``, same RMS (a room changes colour, not loudness)."""
    from scipy.signal import fftconvolve
    y = fftconvolve(x, rir)[: len(x)]
    return (y * _rms(x) / max(_rms(y), 1e-9)).astype(np.float32)


# --- channel --------------------------------------------------------------------------------------------------


def codec_round_trip(x: np.ndarray, codec: str, sample_rate: int = AUDIO.sample_rate) -> np.ndarray:
    """Encode with ``codec`` (see CODECS) and decode back to ``sample_rate``, through two ffmpeg processes."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is needed for codec augmentation (apt-get install -y ffmpeg)")
    args, fmt, rate = CODECS[codec]
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    enc = subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-f", "s16le", "-ar", str(sample_rate), "-ac", "1",
                          "-i", "pipe:0", "-ar", str(rate), *args, "-f", fmt, "pipe:1"],
                         input=pcm, capture_output=True, check=True).stdout
    dec = subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-f", fmt, "-i", "pipe:0", "-f", "s16le",
                          "-ar", str(sample_rate), "-ac", "1", "pipe:1"],
                         input=enc, capture_output=True, check=True).stdout
    y = np.frombuffer(dec, "<i2").astype(np.float32) / 32768.0
    return np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)]   # codecs pad or trim a few ms


# --- one view ---------------------------------------------------------------------------------------------------


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def _fit_length(bg: np.ndarray, n: int, rng) -> np.ndarray:
    """A random stretch of ``n`` samples of ``bg`` (looped if shorter)."""
    if len(bg) < n:
        bg = np.tile(bg, int(np.ceil(n / max(len(bg), 1))) + 1)
    a = int(rng.integers(0, len(bg) - n + 1))
    return bg[a:a + n]


@dataclasses.dataclass(frozen=True)
class ViewRecipe:
    """What one view does (kept beside the cached view: the study can say what it trained on)."""
    shift_s: float = 0.0
    rir: int = -1                 # index in the bank, -1: none
    background: str = ""          # sha256 of the normal clip mixed in, "" none
    background_source: str = ""   # its source (a held-out source's clips are never mixed into training)
    snr_db: float = float("nan")
    channel: str = ""             # "", "bl8k" or a codec name
    gain_db: float = 0.0


def draw_recipe(params: AugmentParams, rng, backgrounds) -> ViewRecipe:
    """Random choices of one view; ``backgrounds``: a DataFrame of candidate normal clips (sha256, source)."""
    shift = float(rng.uniform(-params.shift_s, params.shift_s)) if rng.random() < params.shift_prob else 0.0
    rir = int(rng.integers(params.n_rooms)) if rng.random() < params.reverb_prob else -1
    bg, bg_source, snr = "", "", float("nan")
    if len(backgrounds) and rng.random() < params.mix_prob:
        # a source first, then one of its clips: the largest corpus does not become every clip's background
        sources = sorted(backgrounds["source"].unique())
        pool = backgrounds[backgrounds["source"] == sources[int(rng.integers(len(sources)))]]
        row = pool.iloc[int(rng.integers(len(pool)))]
        bg, bg_source, snr = row["sha256"], row["source"], float(rng.uniform(*params.snr_db))
    u = rng.random()
    channel = "bl8k" if u < params.band_limit_prob else \
        str(rng.choice(sorted(CODECS))) if u < params.band_limit_prob + params.codec_prob else ""
    return ViewRecipe(round(shift, 3), rir, bg, bg_source, round(snr, 2), channel,
                      round(float(rng.uniform(*params.gain_db)), 2))


def apply_recipe(x: np.ndarray, recipe: ViewRecipe, rirs: list[np.ndarray], background: np.ndarray | None,
                 rng, sample_rate: int = AUDIO.sample_rate) -> np.ndarray:
    """The view of clip ``x`` that ``recipe`` describes (``rng`` places the background stretch)."""
    y = np.asarray(x, np.float32)
    k = int(round(abs(recipe.shift_s) * sample_rate))
    if recipe.shift_s > 0:
        y = np.concatenate([np.zeros(k, np.float32), y])
    elif recipe.shift_s < 0 and len(y) - k >= sample_rate:
        y = y[k:]
    if recipe.rir >= 0:
        y = reverberate(y, rirs[recipe.rir])
    if background is not None and recipe.background:
        bg = _fit_length(np.asarray(background, np.float32), len(y), rng)
        scale = _rms(y) / max(_rms(bg), 1e-9) / 10 ** (recipe.snr_db / 20)
        y = y + scale * bg
    if recipe.channel == "bl8k":
        y = band_limit(y, sample_rate)
    elif recipe.channel:
        y = codec_round_trip(y, recipe.channel, sample_rate)
    y = y * 10 ** (recipe.gain_db / 20)
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    return (y * (0.99 / peak) if peak > 0.99 else y).astype(np.float32)


def backgrounds_for(df, row) -> "object":
    """Normal training clips that may be mixed into ``row``: any but the clip's own group."""
    return df[(df["split"] == "train") & (df["label"] == "normal") & (df["group"] != row["group"])]


class ViewMaker:
    """Draws and renders the ``params.views`` augmented views of training clips, reproducibly: view ``v`` of
    a clip depends only on (clip sha256, v, params), never on which other clips are in the run."""

    def __init__(self, df, loader, params: AugmentParams = AugmentParams(), cache_dir=None):
        self.df, self.loader, self.params = df, loader, params
        self.backgrounds = df[(df["split"] == "train") & (df["label"] == "normal")][["sha256", "source", "group"]] \
            .sort_values("sha256").reset_index(drop=True)
        self.rows = df.set_index("sha256")
        self.rirs = room_impulse_responses(params, cache_dir)

    def _rng(self, sha: str, view: int):
        seed = int(hashlib.sha256(f"{sha}:{view}:{self.params.key()}".encode()).hexdigest()[:16], 16)
        return np.random.default_rng(seed)

    def recipe(self, row, view: int) -> ViewRecipe:
        rng = self._rng(row["sha256"], view)
        return draw_recipe(self.params, rng, self.backgrounds[self.backgrounds["group"] != row["group"]])

    def render(self, row, view: int) -> tuple[np.ndarray, ViewRecipe]:
        recipe = self.recipe(row, view)
        rng = self._rng(row["sha256"], view + 10_000)
        bg = self.loader.load_row(self.rows.loc[recipe.background]) if recipe.background else None
        return apply_recipe(self.loader.load_row(row), recipe, self.rirs, bg, rng), recipe
