"""Linear probing, then fine-tuning (LP-FT, Kumar et al., ICLR 2022) for the Wav2Vec2 / HuBERT classifiers.

In a development run of notebook 03, fine-tuning from a randomly initialised head scored below a plain linear probe
on the same frozen backbone (validation macro-F1): while the random head is still wrong, its gradients rewrite the
top layer's features. So the head starts as the probe: a logistic regression on the time-pooled output of the (not
yet trained) top layers, fitted in closed form on every training version with the recipe's weights and written into
``projector`` and ``classifier``, so that the model's logits *are* the probe's before the first step. Early stopping
then sees the probe as epoch 0 and keeps it unless fine-tuning improves the validation loss. Notebook 03's section
says which epoch was kept (`reporting.text.describe_head`).
"""
from __future__ import annotations

import numpy as np
import torch

from ..training.metrics import weighted_nll
from ..training.trainset import TrainSet
from .states import top_output


@torch.no_grad()
def pooled_top_output(model, states: list[np.ndarray], top_layers: int) -> np.ndarray:
    """Mean over frames of the top layers' output (the projector's input) for each clip's cached states."""
    model.eval()
    return np.stack([top_output(model, torch.from_numpy(np.asarray(s, np.float32))[None], top_layers)[0].mean(0).numpy()
                     for s in states])


def probe_head(X: np.ndarray, y: np.ndarray, w: np.ndarray, n_classes: int, c: float = 1.0, seed: int = 0) -> dict:
    """The probe as (projector weight [d, d], projector bias, classifier weight [n_classes, d], classifier bias):
    standardisation (written into the projector) and a weighted logistic regression (the classifier)."""
    from sklearn.linear_model import LogisticRegression
    mu, sd = X.mean(0), X.std(0) + 1e-6
    lr = LogisticRegression(C=c, max_iter=5000, random_state=seed).fit((X - mu) / sd, y, sample_weight=w)
    coef, intercept = np.zeros((n_classes, X.shape[1])), np.full(n_classes, -30.0)   # absent classes improbable
    if len(lr.classes_) > 2:
        coef[lr.classes_], intercept[lr.classes_] = lr.coef_, lr.intercept_
    else:   # one binary score z: logits (-z/2, z/2) give the same probabilities under softmax
        coef[lr.classes_], intercept[lr.classes_] = np.vstack([-lr.coef_, lr.coef_]) / 2, np.array([-1, 1]) * lr.intercept_ / 2
    return {"projector_weight": np.diag(1 / sd), "projector_bias": -mu / sd, "classifier_weight": coef,
            "classifier_bias": intercept}


def write_head(model, head: dict) -> None:
    """Give the model a square projector (hidden -> hidden: the probe reads every dimension) and load ``head``."""
    from torch import nn
    d = head["projector_weight"].shape[1]
    if model.projector.out_features != d:
        model.projector, model.classifier = nn.Linear(d, d), nn.Linear(d, model.config.num_labels)
        model.config.classifier_proj_size = d          # saved with the model: from_pretrained rebuilds this shape
    with torch.no_grad():
        for param, key in ((model.projector.weight, "projector_weight"), (model.projector.bias, "projector_bias"),
                           (model.classifier.weight, "classifier_weight"), (model.classifier.bias, "classifier_bias")):
            param.copy_(torch.as_tensor(head[key], dtype=torch.float32))


def init_head_from_probe(model, train: TrainSet, top_layers: int, val: list[np.ndarray] | None = None,
                         val_y: np.ndarray | None = None, val_w: np.ndarray | None = None,
                         cs: tuple = (0.1, 1.0, 10.0, 100.0), seed: int = 0) -> dict:
    """Fit the probe on ``train`` (every version, the recipe's weights) and write it into the model's head.
    With validation clips, its inverse regularisation ``C`` is the one of ``cs`` with the best validation
    macro-F1, ties by weighted validation NLL (the study's rule for choosing on validation); without, 1.
    Returns what was chosen and the validation scores of every ``C``."""
    from sklearn.metrics import f1_score

    xs, y, w = train.flat()
    X = pooled_top_output(model, xs, top_layers)
    heads = {c: probe_head(X, y, w, model.config.num_labels, c, seed) for c in (cs if val is not None else (1.0,))}
    scores = {}
    if val is not None:
        V = pooled_top_output(model, val, top_layers)
        for c, h in heads.items():
            z = (V * np.diag(h["projector_weight"]) + h["projector_bias"]) @ h["classifier_weight"].T + h["classifier_bias"]
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            scores[c] = {"val_macro_f1": float(f1_score(val_y, p.argmax(1), average="macro")),
                         "val_loss": weighted_nll(p, val_y, val_w)}
    c = max(scores, key=lambda k: (round(scores[k]["val_macro_f1"], 4), -scores[k]["val_loss"])) if scores else 1.0
    write_head(model, heads[c])
    return {"probe_c": c, "probe_val": scores}
