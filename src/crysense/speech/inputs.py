"""What a Wav2Vec2 / HuBERT network is fed: clips padded to the model input length and normalised per clip, as
``Wav2Vec2FeatureExtractor(do_normalize=True)`` does. Shared by pretraining, the probe, the teacher and fine-tuning."""
from __future__ import annotations

import numpy as np

from ..config import AUDIO
from ..data.audio import pad_to

FRAME_RATE = 50   # frames per second after the conv front-end (stride 320 at 16 kHz)


def normalise(batch: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per clip: what ``Wav2Vec2FeatureExtractor(do_normalize=True)`` does."""
    return ((batch - batch.mean(-1, keepdims=True)) / np.sqrt(batch.var(-1, keepdims=True) + 1e-7)).astype(np.float32)


def model_input(x: np.ndarray) -> np.ndarray:
    """What the network sees: at least 5 s (zero-padded, centred), normalised per clip."""
    return normalise(pad_to(x, AUDIO.model_input_s)[None])[0]
