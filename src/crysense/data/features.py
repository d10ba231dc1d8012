"""Hand-made features for quick baselines: log-mel statistics, cached by clip content (sha256)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..config import AUDIO, get_paths, progress_bar
from ..yamnet.params import PARAMS
from .audio import band_limit, pad_to, save_atomic
from .manifest import ClipLoader

N_MELS = PARAMS.mel_bands


def logmel(samples: np.ndarray, sr: int = AUDIO.sample_rate, n_mels: int = N_MELS) -> np.ndarray:
    """Log-mel spectrogram (n_mels x frames) with YAMNet's windows, hop and band (`yamnet_params`)."""
    import librosa
    win, hop = int(round(sr * PARAMS.stft_window_seconds)), int(round(sr * PARAMS.stft_hop_seconds))
    mel = librosa.feature.melspectrogram(y=samples, sr=sr, n_fft=2 ** int(np.ceil(np.log2(win))), win_length=win,
                                         hop_length=hop, n_mels=n_mels, fmin=PARAMS.mel_min_hz, fmax=PARAMS.mel_max_hz,
                                         power=2.0)
    return np.log(mel + 1e-6).astype(np.float32)


def logmel_stats(samples: np.ndarray, sr: int = AUDIO.sample_rate) -> np.ndarray:
    """Mean and standard deviation of each log-mel band over time: a 2 x 64-d clip summary."""
    m = logmel(pad_to(samples, 1.0, sr), sr)
    return np.concatenate([m.mean(axis=1), m.std(axis=1)])


def clip_features(df: pd.DataFrame, band_limited: bool = False, cache_dir=None,
                  progress: bool = True) -> np.ndarray:
    """Log-mel statistics of each manifest row (optionally after an 8 kHz round trip), cached."""
    cache_dir = Path(cache_dir or get_paths().cache)
    store = cache_dir / "features" / f"logmel_stats{'_bl4k' if band_limited else ''}.npz"
    cached = dict(np.load(store)) if store.exists() else {}
    loader = ClipLoader(cache_dir)
    todo = [i for i, sha in enumerate(df["sha256"]) if sha not in cached]
    for i in progress_bar(todo, desc="log-mel features", show=progress and bool(todo)):
        row = df.iloc[i]
        x = loader.load_row(row)
        cached[row["sha256"]] = logmel_stats(band_limit(x) if band_limited else x)
    if todo:
        save_atomic(store, lambda tmp: np.savez(tmp, **cached))   # notebooks running at once share the store
    return np.stack([cached[s] for s in df["sha256"]])
