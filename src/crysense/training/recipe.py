"""Training recipes: which clips a model trains on, in which versions, with which weights.

Every model (YAMNet, its embedding member, Wav2Vec2) trains on the same recipe, so the study can change one
thing at a time and show what each change does on recordings from elsewhere (leave-one-source-out, `loso`):

- ``sources``: the training sources (the first rung trains on the six the study started with);
- ``augment``: False shows each clip as recorded or 8 kHz round-tripped (half each, the original counter to
  the bandwidth shortcut); True shows the original or one of its augmented views (`crysense.data.augment`:
  room, background, codec, gain, shift, bandwidth);
- ``source_balance``: within a class, a source's share of the weight grows as clips ** source_balance
  (1: as many clips, as many shares; 0: every source equal; 0.5: the square root, so a corpus of 700 cries
  no longer drowns one of 40, and 40 clips are not weighted 17-fold either);
- ``hard_negative_weight``: within `normal`, human vocal sounds (`config.HARD_NEGATIVE_SUBCATEGORIES`) count
  this many times.

Classes always carry equal total weight (as class-weighted cross-entropy does).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..config import HARD_NEGATIVE_SUBCATEGORIES, ORIGINAL_SOURCES


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    sources: tuple | None = None
    augment: bool = False
    source_balance: float = 1.0
    hard_negative_weight: float = 1.0

    def versions(self, views: int) -> list[str]:
        """The versions of a training clip an epoch picks from (uniformly)."""
        return ["orig"] + ([f"view{k}" for k in range(views)] if self.augment else ["bl4k"])


# The ablation ladder: each rung adds one change to the one before. Fixed before any leave-one-source-out
# result was seen; the last rung is what the study's models train on.
LADDER = (
    Recipe("before: original 6 sources, 8 kHz round trip", sources=ORIGINAL_SOURCES),
    Recipe("+ 3 new sources (room speech, vocal bursts, screams)"),
    Recipe("+ per-source balance", source_balance=0.5),
    Recipe("+ hard negatives x2", source_balance=0.5, hard_negative_weight=2.0),
    Recipe("+ augmentation (room, background, codec, gain, shift)", source_balance=0.5, hard_negative_weight=2.0,
           augment=True),
)
BEFORE, FINAL = LADDER[0], LADDER[-1]
UNTRAINED = Recipe("no training: AudioSet classes mapped")   # the zero-shot reference, in tables beside the ladder


def recipe_by_name(name: str) -> Recipe:
    for r in LADDER:
        if r.name == name:
            return r
    raise KeyError(f"no recipe {name!r}; one of {[r.name for r in LADDER]}")


def held_out_groups(df: pd.DataFrame, held_out: str | None) -> set:
    """Groups of the held-out source: a group shared with another source (the same ESC-50 recording in two
    collections, one Freesound uploader in two) leaves training with it."""
    return set(df.loc[df["source"] == held_out, "group"]) if held_out else set()


def select(df: pd.DataFrame, recipe: Recipe, split: str, held_out: str | None = None) -> pd.DataFrame:
    """The clips of ``split`` a model trained by ``recipe`` may use, leaving ``held_out`` (a source) out."""
    keep = df["split"] == split
    if recipe.sources is not None:
        keep &= df["source"].isin(recipe.sources)
    if held_out:
        keep &= (df["source"] != held_out) & ~df["group"].isin(held_out_groups(df, held_out))
    return df[keep]


def sample_weights(rows: pd.DataFrame, recipe: Recipe) -> np.ndarray:
    """Per-clip loss weights (mean 1): equal class totals; within a class, sources by ``source_balance``,
    hard negatives by ``hard_negative_weight``."""
    w = np.ones(len(rows))
    hard = rows["subcategory"].isin(HARD_NEGATIVE_SUBCATEGORIES).to_numpy() & (rows["label"] == "normal").to_numpy()
    w[hard] = recipe.hard_negative_weight
    out = np.zeros(len(rows))
    labels, sources = rows["label"].to_numpy(), rows["source"].to_numpy()
    for label in np.unique(labels):
        in_class = labels == label
        for s in np.unique(sources[in_class]):
            m = in_class & (sources == s)
            out[m] = m.sum() ** recipe.source_balance / m.sum()   # the source's share, spread over its clips
        out[in_class] *= w[in_class]                              # then hard negatives count more ...
        out[in_class] /= out[in_class].sum()                      # ... and every class keeps the same total
    return out / out.mean()


def weight_table(rows: pd.DataFrame, recipe: Recipe) -> pd.DataFrame:
    """Share of the training weight per (label, source): what 'no corpus dominates a class' means in numbers."""
    w = sample_weights(rows, recipe)
    t = rows.assign(weight=w).groupby(["label", "source"]).agg(clips=("sha256", "size"), weight=("weight", "sum"))
    t["share_of_class"] = t["weight"] / t.groupby(level=0)["weight"].transform("sum")
    return t.drop(columns="weight").round(3)
