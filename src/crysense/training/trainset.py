"""Training clips as a model sees them: for each clip the inputs of its versions (an epoch picks one at
random), its label and its loss weight, built from a `recipe.Recipe` and cached per-version inputs."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from .recipe import Recipe, held_out_groups, sample_weights, select


@dataclasses.dataclass
class TrainSet:
    versions: list[list[np.ndarray]]   # per clip: the model inputs of its available versions
    y: np.ndarray
    weight: np.ndarray                 # per clip, mean 1 (see recipe.sample_weights)

    def __len__(self) -> int:
        return len(self.y)

    def pick(self, rng) -> list[np.ndarray]:
        """One version of every clip, uniformly among its own (what an epoch trains on)."""
        return [v[int(rng.integers(len(v)))] for v in self.versions]

    def flat(self) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """Every version as its own example, the clip's weight shared among them (for models fitted once)."""
        xs = [a for v in self.versions for a in v]
        y = np.repeat(self.y, [len(v) for v in self.versions])
        w = np.concatenate([np.full(len(v), wi / len(v)) for v, wi in zip(self.versions, self.weight)])
        return xs, y, w / w.mean()

    def map(self, fn) -> "TrainSet":
        """The same clips with every input transformed (e.g. trunk activations -> pooled embeddings)."""
        return TrainSet([[fn(a) for a in v] for v in self.versions], self.y, self.weight)


def usable_views(views: pd.DataFrame | None, df: pd.DataFrame, held_out: str | None) -> set | None:
    """(sha256, version) of augmented views a fold may train on: none whose background comes from the
    held-out source or one of its groups. None when every view may be used."""
    if views is None or views.empty or not held_out:
        return None
    groups = held_out_groups(df, held_out)
    bad = (views["background_source"] == held_out) | views["background_group"].isin(groups)
    return set(zip(views.loc[~bad, "sha256"], views.loc[~bad, "version"]))


def build(rows: pd.DataFrame, recipe: Recipe, inputs: dict[str, dict[str, np.ndarray]], labels, views: int,
          allowed: set | None = None) -> TrainSet:
    """``inputs``: {version: {sha256: model input}} holding at least the recipe's versions for ``rows``.
    ``allowed``: (sha256, version) pairs of views the fold may use (see ``usable_views``); originals always."""
    versions = recipe.versions(views)
    per_clip = []
    for sha in rows["sha256"]:
        keep = [v for v in versions if v in ("orig", "bl4k") or allowed is None or (sha, v) in allowed]
        per_clip.append([inputs[v][sha] for v in keep])
    y = np.array([list(labels).index(lab) for lab in rows["label"]])
    return TrainSet(per_clip, y, sample_weights(rows, recipe))


@dataclasses.dataclass
class RunData:
    """Everything one training run needs: the training set, and the validation clips for early stopping."""
    train: TrainSet
    val: dict[str, list[np.ndarray]]   # {'orig': [...], 'bl4k': [...]}: validation inputs in row order
    val_y: np.ndarray
    val_w: np.ndarray                  # validation loss weights (same recipe as training)
    train_rows: pd.DataFrame
    val_rows: pd.DataFrame


def run_data(df: pd.DataFrame, recipe: Recipe, inputs: dict[str, dict[str, np.ndarray]], labels, views: int,
             held_out: str | None = None, view_table: pd.DataFrame | None = None) -> RunData:
    """The training and validation data of ``recipe`` (train / val splits), leaving the source ``held_out``
    and its groups out (leave-one-source-out), views mixing in its audio included."""
    train_rows, val_rows = select(df, recipe, "train", held_out), select(df, recipe, "val", held_out)
    train = build(train_rows, recipe, inputs, labels, views, usable_views(view_table, df, held_out))
    val = {v: [inputs[v][s] for s in val_rows["sha256"]] for v in ("orig", "bl4k") if v in inputs}
    val_y = np.array([list(labels).index(lab) for lab in val_rows["label"]])
    return RunData(train, val, val_y, sample_weights(val_rows, recipe), train_rows, val_rows)
