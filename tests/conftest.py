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


def build_tiny_models(out_dir: Path) -> Path:
    """A complete models/ folder with tiny or untrained members (fast; only for plumbing tests)."""
    import joblib

    from crysense import ensemble, wav2vec2, yamnet
    from crysense.config import LABELS

    out_dir.mkdir(parents=True, exist_ok=True)
    base = yamnet.Yamnet(top_blocks=1)
    yamnet.YamnetClassifier(base, LABELS).save(out_dir / "yamnet_finetuned.h5")
    wav2vec2.save_classifier(wav2vec2.load_classifier(random_init=True, size="tiny"), out_dir / "wav2vec2_finetuned")
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 10)
    joblib.dump(ensemble.fit_embedding_member(rng.normal(size=(30, 1024)) + y[:, None] * 0.1, y),
                out_dir / "yamnet_logreg.joblib")
    val = {m: rng.dirichlet(np.ones(3), 30) for m in ("yamnet", "wav2vec2", "yamnet_logreg")}
    ens, _ = ensemble.Ensemble.fit(val, y, np.arange(30))
    ens.save(out_dir / "ensemble.joblib")
    return out_dir


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    return build_tiny_models(tmp_path_factory.mktemp("models"))
