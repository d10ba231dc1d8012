"""Ensemble members on frozen features: a logistic regression on AudioSet YAMNet's embeddings or class scores,
trained on the study's recipe."""
from __future__ import annotations

import numpy as np

from ..training.linear import fit_embedding_member
from ..training.recipe import FINAL
from ..training.trainset import run_data


def fit_frozen_member(features: dict[str, dict[str, np.ndarray]], df, labels, views: int, seed: int = 0):
    """`fit_embedding_member` on frozen per-clip features ({version: {sha256: vector}}: YAMNet embeddings, AudioSet
    evidence), trained on the train split by the study's recipe (`recipe.FINAL`): every version of a clip, original
    and augmented views, is an example sharing the clip's weight."""
    X, y, w = run_data(df, FINAL, features, labels, views).train.flat()
    return fit_embedding_member(np.stack(X), y, w, seed=seed)
