"""Combining member models: temperature calibration, probability averaging (the seed's choice), weighted
averaging, majority voting and a stacked meta-classifier. Everything is fitted on the validation split;
the test split is only ever predicted.
"""
from __future__ import annotations

import itertools
import re

import numpy as np

from ..training.linear import proba_all_classes

EPS = 1e-9


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def apply_temperature(proba: np.ndarray, t: float) -> np.ndarray:
    """softmax(log p / t): t > 1 softens an over-confident model, t < 1 sharpens."""
    return _softmax(np.log(np.clip(proba, EPS, 1)) / t)


def nll(proba: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], EPS, 1))))


def fit_temperature(proba: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising validation negative log-likelihood (bounded search on log t)."""
    from scipy.optimize import minimize_scalar
    res = minimize_scalar(lambda lt: nll(apply_temperature(proba, np.exp(lt)), y), bounds=(np.log(0.05), np.log(20)),
                          method="bounded")
    return float(np.exp(res.x))


def average(probas: list[np.ndarray]) -> np.ndarray:
    return np.mean(probas, axis=0)


def weighted_average(probas: list[np.ndarray], weights) -> np.ndarray:
    w = np.asarray(weights, float)
    return np.tensordot(w / w.sum(), np.stack(probas), axes=1)


def fit_weights(probas: list[np.ndarray], y: np.ndarray, step: float = 0.05) -> np.ndarray:
    """Weights on the simplex (grid of ``step``) minimising validation NLL of the weighted average."""
    n = len(probas)
    k = int(round(1 / step))
    best = (np.inf, None)
    for c in itertools.product(range(k + 1), repeat=n - 1):
        if sum(c) > k:
            continue
        w = np.array([*c, k - sum(c)], float) / k
        loss = nll(weighted_average(probas, w), y) if w.sum() else np.inf
        if loss < best[0]:
            best = (loss, w)
    return best[1]


def majority_vote(probas: list[np.ndarray]) -> np.ndarray:
    """Each member votes for its top class; the class with most votes wins.

    Tie rule (with 3 members and 3 classes: all three disagree): the tied class with the highest mean
    probability wins. Returned as scores summing to one: vote share plus a 1e-3 tie-breaker of the mean
    probability, so ROC curves can still rank clips.
    """
    n_classes = probas[0].shape[1]
    votes = sum(np.eye(n_classes)[p.argmax(axis=1)] for p in probas)
    scores = votes + 1e-3 * average(probas)
    return scores / scores.sum(axis=1, keepdims=True)


class Stacker:
    """Logistic regression on the members' log-probabilities, fitted on validation clips (judged on validation by
    ``Ensemble.cross_fit``, out of fold)."""

    def __init__(self, c: float = 1.0, seed: int = 0):
        from sklearn.linear_model import LogisticRegression
        self.model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced", random_state=seed)

    @staticmethod
    def features(probas: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([np.log(np.clip(p, EPS, 1)) for p in probas], axis=1)

    def fit(self, probas, y) -> "Stacker":
        self.model.fit(self.features(probas), y)
        return self

    def predict_proba(self, probas) -> np.ndarray:
        return proba_all_classes(self.model, self.features(probas), probas[0].shape[1])


class Ensemble:
    """Fitted combiners over named members; ``combine(name, {member: proba})`` applies one.

    ``chosen``: the combiner the study reports and the service runs, picked on validation by a rule fixed before
    any test result was seen (``choose``): the best macro-F1 of grouped cross-fitted validation predictions, ties
    by their negative log-likelihood. The seed's own choice (``SEED_CHOICE``) stays reported beside it.
    """

    SEED_CHOICE = "average (YAMNet + Wav2Vec2)"   # the seed's final choice
    COMBINERS = (SEED_CHOICE, "average (all members)", "weighted average", "majority vote",
                 "stacking (LogReg meta-classifier)")

    def __init__(self, members: list[str], temperatures: dict, weights: np.ndarray, stacker: Stacker,
                 chosen: str = SEED_CHOICE):
        self.members, self.temperatures, self.weights, self.stacker = members, temperatures, weights, stacker
        self.chosen = chosen

    @classmethod
    def fit_combiners(cls, val: dict[str, np.ndarray], y: np.ndarray, seed: int = 0) -> "Ensemble":
        """Temperatures, weights and stacker fitted on these validation probabilities (no choice made)."""
        members = list(val)
        temps = {m: fit_temperature(val[m], y) for m in members}
        cal = [apply_temperature(val[m], temps[m]) for m in members]
        return cls(members, temps, fit_weights(cal, y), Stacker(seed=seed).fit(cal, y))

    @classmethod
    def cross_fit(cls, val: dict[str, np.ndarray], y: np.ndarray, groups, n_splits: int = 5, seed: int = 0) -> dict:
        """Out-of-fold validation predictions of every combiner: each grouped fold is combined by an ensemble
        fitted on the other folds, so no combiner is judged on clips it was fitted on."""
        from sklearn.model_selection import StratifiedGroupKFold
        out = {n: np.zeros((len(y), next(iter(val.values())).shape[1])) for n in cls.COMBINERS}
        folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups)
        for tr, te in folds:
            ens = cls.fit_combiners({m: p[tr] for m, p in val.items()}, y[tr], seed)
            for n in cls.COMBINERS:
                out[n][te] = ens.combine(n, {m: p[te] for m, p in val.items()})
        return out

    @staticmethod
    def choose(oof: dict[str, np.ndarray], y: np.ndarray) -> str:
        """The rule: the best validation macro-F1 of the cross-fitted predictions, ties by their NLL."""
        from sklearn.metrics import f1_score
        score = {n: (round(f1_score(y, p.argmax(1), average="macro"), 6), -nll(p, y)) for n, p in oof.items()}
        return max(score, key=score.get)

    @classmethod
    def fit(cls, val: dict[str, np.ndarray], y: np.ndarray, groups, seed: int = 0) -> tuple["Ensemble", dict]:
        """Fit every combiner on validation, and choose one (``choose``) from their cross-fitted predictions;
        returns the ensemble and those out-of-fold validation predictions (every combiner's honest validation score)."""
        oof = cls.cross_fit(val, y, groups, seed=seed)
        ens = cls.fit_combiners(val, y, seed)
        ens.chosen = cls.choose(oof, y)
        return ens, oof

    @staticmethod
    def predictions_name(name: str) -> str:
        """The name a combiner's predictions are saved under (``evaluation.save_predictions``), distinct for every
        combiner: 'average (YAMNet + Wav2Vec2)' -> 'ensemble_average_yamnet_wav2vec2'."""
        return "ensemble_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")

    def calibrated(self, probas: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [apply_temperature(probas[m], self.temperatures[m]) for m in self.members]

    def combiners(self) -> list[str]:
        return list(self.COMBINERS)

    def needs(self, name: str) -> list[str]:
        """The members combiner ``name`` reads."""
        return [m for m in self.members if m in ("yamnet", "wav2vec2")] if name == self.SEED_CHOICE else list(self.members)

    def combine(self, name: str, probas: dict[str, np.ndarray]) -> np.ndarray:
        cal = self.calibrated(probas)
        if name == self.SEED_CHOICE:
            return average([c for m, c in zip(self.members, cal) if m in self.needs(name)])
        return {"average (all members)": lambda: average(cal),
                "weighted average": lambda: weighted_average(cal, self.weights),
                "majority vote": lambda: majority_vote(cal),
                "stacking (LogReg meta-classifier)": lambda: self.stacker.predict_proba(cal)}[name]()

    def save(self, path) -> None:
        import joblib
        joblib.dump({"members": self.members, "temperatures": self.temperatures, "weights": self.weights,
                     "stacker": self.stacker, "chosen": self.chosen}, path)

    @classmethod
    def load(cls, path) -> "Ensemble":
        import joblib
        d = joblib.load(path)
        return cls(d["members"], d["temperatures"], d["weights"], d["stacker"], d.get("chosen", cls.SEED_CHOICE))


def validation_scores_figure(val_table, n_members: int):
    """Validation macro-F1 of the members (grey, the first ``n_members`` rows) and the combiners (blue)."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 3.8))
    colours = ["#999"] * n_members + ["#1f77b4"] * (len(val_table) - n_members)
    val_table["macro_f1"].astype(float).plot.barh(ax=ax, color=colours)
    ax.set(xlabel="validation macro-F1", xlim=(0, 1), title="members and combiners on validation")
    ax.grid(axis="x", alpha=0.3)
    return fig
