"""YAMNet's parameters (the ones the AudioSet weights were trained with), its architecture table and where its
weights come from: the one place these numbers live (tensorflow/models' yamnet keeps them in params.py)."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ..config import REPO_ROOT

TFHUB_HANDLE = "https://tfhub.dev/google/yamnet/1"
LOCAL_WEIGHTS_DIR = Path(os.environ.get("CRYSENSE_YAMNET_WEIGHTS") or REPO_ROOT.parent / "shared" / "weights" / "yamnet")


@dataclasses.dataclass(frozen=True)
class YamnetParams:
    """Upstream YAMNet hyper-parameters (the ones the weights were trained with)."""

    sample_rate: int = 16_000
    stft_window_seconds: float = 0.025
    stft_hop_seconds: float = 0.010
    mel_bands: int = 64
    mel_min_hz: float = 125.0
    mel_max_hz: float = 7500.0
    log_offset: float = 0.001
    patch_window_seconds: float = 0.96
    patch_hop_seconds: float = 0.48
    num_classes: int = 521
    batchnorm_epsilon: float = 1e-4

    @property
    def patch_frames(self) -> int:
        return int(round(self.patch_window_seconds / self.stft_hop_seconds))


PARAMS = YamnetParams()

# (kind, stride, filters) of the 14 blocks; all kernels 3x3
BLOCKS = [("conv", 2, 32), ("sep", 1, 64), ("sep", 2, 128), ("sep", 1, 128), ("sep", 2, 256), ("sep", 1, 256),
          ("sep", 2, 512), ("sep", 1, 512), ("sep", 1, 512), ("sep", 1, 512), ("sep", 1, 512), ("sep", 1, 512),
          ("sep", 2, 1024), ("sep", 1, 1024)]
EMBEDDING_SIZE = 1024
