"""Linear models on frozen features (AudioSet YAMNet embeddings or class scores, a backbone's pooled states):
a standardised logistic regression, and its probabilities over every class. Ensemble members and the probe
of pretrained backbones are both this model."""
from __future__ import annotations

import numpy as np


def fit_embedding_member(X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None, c: float = 1.0,
                         seed: int = 0):
    """A member on frozen features (AudioSet YAMNet embeddings or its class scores): standardised logistic
    regression. Without ``sample_weight`` the classes are balanced; with it (a training recipe's weights,
    `crysense.training.recipe`) the weights decide."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    model = make_pipeline(StandardScaler(), LogisticRegression(
        C=c, max_iter=5000, class_weight="balanced" if sample_weight is None else None, random_state=seed))
    return model.fit(X, y, logisticregression__sample_weight=sample_weight)


def proba_all_classes(model, X: np.ndarray, n_classes: int) -> np.ndarray:
    """``model.predict_proba`` with a column for every class index, zeros for classes it never saw in training."""
    out = np.zeros((len(X), n_classes))
    out[:, model.classes_] = model.predict_proba(X)
    return out
