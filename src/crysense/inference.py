"""The classifier people use: loads the fine-tuned models once, classifies a clip, a file or an array of any
length in windows of 5-15 s (with hop), per window and overall.

    clf = Classifier.load()                 # models/ from ./run_all.sh
    result = clf.classify_file("clip.wav")  # {'label': 'crying', 'probabilities': {...}, 'windows': [...]}
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from .audio import AudioError, check_clip, decode
from .config import AUDIO, LABELS, get_paths
from .ensemble import Ensemble
from .streaming import WindowParams, window_bounds

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
    """One window as the members read it: the samples, and the frozen YAMNet trunk's activations computed once
    for the two members that start from it (the fine-tuned YAMNet and the embedding LogReg)."""
    samples: np.ndarray
    trunk: np.ndarray


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
        """Every model from ``models/`` (written by notebooks 02-04), loaded once."""
        import joblib

        from . import wav2vec2, yamnet
        d = Path(models_dir or get_paths().models)
        need = [d / "yamnet_finetuned.h5", d / "wav2vec2_finetuned" / "config.json", d / "yamnet_logreg.joblib",
                d / "ensemble.joblib"]
        if missing := [str(p) for p in need if not p.exists()]:
            raise FileNotFoundError(f"trained models missing ({', '.join(missing)}): run ./run_all.sh first")
        yam = yamnet.SavedYamnetClassifier(d / "yamnet_finetuned.h5")
        w2v = wav2vec2.load_finetuned(d / "wav2vec2_finetuned")
        frozen = yamnet.load_yamnet(kw.pop("yamnet_source", None), top_blocks=yam.top_blocks)
        logreg = joblib.load(d / "yamnet_logreg.joblib")
        ens = Ensemble.load(d / "ensemble.joblib")
        embedding = lambda emb: logreg.predict_proba(emb.mean(0, keepdims=True))[0]
        if yam.shares_trunk_with(frozen):   # one trunk pass a window serves both YAMNet members
            return cls({"yamnet": lambda w: yam.predict_trunk(w.trunk),
                        "wav2vec2": lambda w: wav2vec2.predict_waveform(w2v, w.samples),
                        "yamnet_logreg": lambda w: embedding(frozen.embed_scores(w.trunk)[0])},
                       ens, prepare=lambda x: WindowInput(x, frozen.trunk_activations(x)), **kw)
        return cls({"yamnet": yam.predict_proba, "wav2vec2": lambda x: wav2vec2.predict_waveform(w2v, x),
                    "yamnet_logreg": lambda x: embedding(frozen.frames(x)[0])}, ens, **kw)

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


__all__ = ["AudioError", "Classifier", "WindowParams"]
