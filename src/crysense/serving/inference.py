"""The classifier people use: loads the fine-tuned models once, classifies a clip, a file or an array of any
length in windows of 5-15 s (with hop), per window and overall.

    clf = Classifier.load()                 # models/ from ./run_all.sh
    result = clf.classify_file("clip.wav")  # {'label': 'crying', 'probabilities': {...}, 'windows': [...]}
"""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from .. import yamnet
from ..config import AUDIO, LABELS, get_paths, shown
from ..data.audio import AudioError, check_clip, decode
from ..ensemble.combiners import Ensemble
from .streaming import WindowParams, window_bounds

# members trained by notebook 04 on the frozen AudioSet YAMNet's outputs (saved as models/<name>.joblib)
FROZEN_FEATURE_MEMBERS = ("yamnet_logreg", "audioset_logreg")
# a window as the Classifier's ``prepare`` gives it (16 kHz mono float32 samples by default) -> probabilities over LABELS
Member = Callable[[object], np.ndarray]


@dataclasses.dataclass
class WindowResult:
    start_s: float
    end_s: float
    label: str
    probabilities: dict[str, float]
    members: dict[str, dict[str, float]]


def _named(p: np.ndarray) -> dict[str, float]:
    return {lab: round(float(v), 6) for lab, v in zip(LABELS, p)}


@dataclasses.dataclass
class WindowInput:
    """One window as the members read it: the samples, and the frozen AudioSet YAMNet's outputs computed once for
    every member that starts from them: its trunk activations (None when the fine-tuned YAMNet has its own trunk)
    and its per-patch embeddings and AudioSet scores."""
    samples: np.ndarray
    trunk: np.ndarray | None
    patch_embeddings: np.ndarray
    patch_scores: np.ndarray


def limit_kernel_threads(n: int = 1) -> bool:
    """Run each model's numerical kernels (TensorFlow's and PyTorch's) on ``n`` threads.

    A worker that classifies one window per core in parallel wants 1: left to their defaults, both libraries size
    their pools to the machine, so two windows at once keep four or more busy threads on two cores, which slow
    each other down. The BLAS / OpenMP pools under NumPy and scikit-learn (the logistic-regression members) are
    limited too (threadpoolctl), which neither library's own setting reaches. TensorFlow fixes its pools when it
    first runs; called after that, only the others change and this warns and returns False."""
    import torch
    from threadpoolctl import threadpool_limits

    from ..yamnet.tf_runtime import tf  # lazy: TensorFlow, only when a TensorFlow member is loaded
    torch.set_num_threads(n)
    threadpool_limits(limits=n)   # process-wide from here on (not a context manager on purpose)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:
        warnings.warn("TensorFlow has already run: its thread pools keep their size", stacklevel=2)
        return False
    return True


class ModelsMissing(FileNotFoundError):
    """The trained models a Classifier needs are not there (the study writes them: ``./run_all.sh``)."""

    def __init__(self, missing):
        self.missing = [Path(m) for m in missing]
        super().__init__(f"trained models missing ({', '.join(shown(m) for m in self.missing)}): run ./run_all.sh "
                         "first, or point --models / CRYSENSE_ROOT at a folder that holds them")


class Classifier:
    def __init__(self, members: dict[str, Member], ensemble: Ensemble, combiner: str | None = None,
                 window: WindowParams = WindowParams(), prepare: Callable | None = None):
        """``prepare``: window samples -> what every member is called with (default: the samples themselves)."""
        combiner = combiner or ensemble.chosen   # the combiner notebook 04 chose on validation
        missing = set(ensemble.members) - set(members)
        if missing:
            raise ValueError(f"the ensemble needs members {sorted(missing)}")
        if combiner not in ensemble.combiners():
            raise ValueError(f"unknown combiner {combiner!r}; one of {ensemble.combiners()}")
        self.members, self.ensemble, self.combiner, self.window = members, ensemble, combiner, window
        self.prepare = prepare or (lambda x: x)

    @classmethod
    def load(cls, models_dir=None, **kw) -> "Classifier":
        """Every model from ``models/`` (written by notebooks 02-04) that the saved ensemble reads, loaded once."""
        import joblib

        from ..speech import wav2vec2  # lazy: PyTorch, only when the Wav2Vec2 member is loaded
        d = Path(models_dir or get_paths().models)
        if not (d / "ensemble.joblib").exists():
            raise ModelsMissing([d / "ensemble.joblib"])
        ens = Ensemble.load(d / "ensemble.joblib")
        files = {"yamnet": d / "yamnet_finetuned.h5", "wav2vec2": d / "wav2vec2_finetuned" / "config.json",
                 **{m: d / f"{m}.joblib" for m in FROZEN_FEATURE_MEMBERS}}
        if missing := [files[m] for m in ens.members if not files[m].exists()]:
            raise ModelsMissing(missing)
        yam = yamnet.SavedYamnetClassifier(files["yamnet"])
        w2v = wav2vec2.load_finetuned(files["wav2vec2"].parent)
        frozen = yamnet.load_yamnet(kw.pop("yamnet_source", None), top_blocks=yam.top_blocks)
        frozen_members = {m: joblib.load(files[m]) for m in FROZEN_FEATURE_MEMBERS if m in ens.members}
        # each member trained on the frozen network reads one clip-level view of its per-patch outputs
        features = {"yamnet_logreg": lambda w: w.patch_embeddings.mean(0),
                    "audioset_logreg": lambda w: yamnet.patch_evidence(w.patch_scores, frozen.class_names)}
        members = {m: lambda w, m=m, model=model: model.predict_proba(features[m](w)[None])[0]
                   for m, model in frozen_members.items()}
        members["wav2vec2"] = lambda w: wav2vec2.predict_waveform(w2v, w.samples)
        if yam.shares_trunk_with(frozen):   # one trunk pass a window serves every YAMNet member
            members["yamnet"] = lambda w: yam.predict_trunk(w.trunk)

            def prepare(x):
                trunk = frozen.trunk_activations(x)
                return WindowInput(x, trunk, *frozen.embed_scores(trunk))
        else:
            members["yamnet"] = lambda w: yam.predict_proba(w.samples)
            prepare = lambda x: WindowInput(x, None, *frozen.frames(x))
        return cls(members, ens, prepare=prepare, **kw)

    def classify_window(self, x: np.ndarray, start_s: float = 0.0) -> WindowResult:
        inputs = self.prepare(x)
        probas = {m: np.asarray(self.members[m](inputs), float)[None] for m in self.ensemble.members}
        p = self.ensemble.combine(self.combiner, probas)[0]
        return WindowResult(round(start_s, 3), round(start_s + len(x) / AUDIO.sample_rate, 3), LABELS[int(p.argmax())],
                            _named(p), {m: _named(v[0]) for m, v in probas.items()})

    def classify(self, x: np.ndarray) -> dict:
        """Windows of ``window.window_s`` every ``window.hop_s``; overall = mean of the window probabilities."""
        sr = AUDIO.sample_rate
        windows = [self.classify_window(x[a:b], a / sr) for a, b in window_bounds(len(x), self.window, sr)]
        mean = np.mean([[w.probabilities[lab] for lab in LABELS] for w in windows], axis=0)
        return {"label": LABELS[int(mean.argmax())], "probabilities": _named(mean), "duration_s": round(len(x) / sr, 3),
                "combiner": self.combiner, "windows": [dataclasses.asdict(w) for w in windows]}

    def classify_file(self, path) -> dict:
        """Decode (any format, any rate, mono or stereo), reject unusable audio with AudioError, classify."""
        d = decode(path)
        check_clip(d.samples, path)   # too short or near-silent: a clear error, not a guess
        return {"file": str(path), **self.classify(d.samples)}


__all__ = ["AudioError", "Classifier", "WindowParams", "limit_kernel_threads"]
