import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SR = 16_000


def tone(freq=440.0, seconds=2.0, sr=SR, amp=0.3):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seconds=2.0, sr=SR, amp=0.1, seed=0):
    return (amp * np.random.default_rng(seed).standard_normal(int(seconds * sr))).astype(np.float32)


def write(path: Path, samples, sr=SR, subtype=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, sr, subtype=subtype)
    return path


def ffmpeg_encode(src: Path, dst: Path, *args) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), *args, str(dst)], check=True)
    return dst


@pytest.fixture(scope="session")
def ffmpeg():
    path = shutil.which("ffmpeg")
    assert path, "ffmpeg must be installed (scripts/setup.sh installs it)"
    return path


@pytest.fixture
def isolated_paths(tmp_path, monkeypatch):
    """Outputs and cache in a temporary folder."""
    monkeypatch.setenv("CRYSENSE_ROOT", str(tmp_path / "out"))
    monkeypatch.setenv("CRYSENSE_CACHE", str(tmp_path / "cache"))
    return tmp_path
