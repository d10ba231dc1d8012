"""The scores models are trained, chosen and reported by: class-balanced weights, the weighted negative
log-likelihood (every model's validation loss), macro-F1 and the per-class metrics of argmax predictions."""
from __future__ import annotations

import numpy as np

from ..config import LABELS


def class_balanced_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-example weights giving every class the same total (mean 1 over a balanced set)."""
    counts = np.bincount(y, minlength=n_classes).astype(float)
    return (len(y) / (n_classes * np.clip(counts, 1, None)))[y]


def weighted_nll(proba: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Weighted mean negative log-likelihood of the true class (the validation loss of every model)."""
    p = np.clip(proba[np.arange(len(y)), y], 1e-9, 1.0)
    w = np.ones(len(y)) if weight is None else np.asarray(weight, float)
    return float(np.sum(-np.log(p) * w) / np.sum(w))


def metrics(y_true, proba: np.ndarray, labels=LABELS) -> dict:
    """Accuracy, macro precision / recall / F1 and per-class recall of argmax predictions."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    labels = list(labels)
    y = np.asarray([labels.index(v) for v in y_true]) if not np.issubdtype(np.asarray(y_true).dtype, np.integer) \
        else np.asarray(y_true)
    pred = np.argmax(proba, axis=1)
    p, r, f, _ = precision_recall_fscore_support(y, pred, labels=range(len(labels)), average="macro", zero_division=0)
    _, rc, fc, support = precision_recall_fscore_support(y, pred, labels=range(len(labels)), zero_division=0)
    out = {"n": int(len(y)), "accuracy": float(accuracy_score(y, pred)), "macro_precision": float(p),
           "macro_recall": float(r), "macro_f1": float(f)}
    for i, lab in enumerate(labels):
        out[f"recall_{lab}"] = float(rc[i])
        out[f"f1_{lab}"] = float(fc[i])
        out[f"n_{lab}"] = int(support[i])
    return out


def macro_f1(y, pred, n: int) -> float:
    """Macro-F1 over all ``n`` classes (a class never predicted nor present counts 0)."""
    from sklearn.metrics import f1_score
    return f1_score(y, pred, labels=range(n), average="macro", zero_division=0)
