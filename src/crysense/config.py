"""Paths, labels, audio parameters, seeds and smoke/full run settings: one place.

Every path can be moved with an environment variable so the same code runs from a clone, in CI and
inside a papermill kernel:

- ``CRYSENSE_ROOT``   where outputs go (manifest, plots/, reports/, models/); default: the repository
- ``CRYSENSE_DATA``   the local mirror of the data sources; default: ``<repo>/../shared/data``
- ``CRYSENSE_CACHE``  decoded-audio and feature cache; default: ``<repo>/cache``
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

LABELS = ("crying", "screaming", "normal")
CRY_REASONS = {
    "hu": "hungry",
    "bp": "belly_pain",
    "bu": "burping",
    "dc": "discomfort",
    "ti": "tired",
    "lo": "lonely",
    "ch": "cold_hot",
    "sc": "scared",
    "dk": "dont_know",
}
SPLITS = ("train", "val", "test")

# Sources the study started with; the ablation's first rung trains on these alone
ORIGINAL_SOURCES = ("donateacry", "giulbia_baby_cry", "scream_rohanmathur17", "esc50_subset", "gtzan_music_speech",
                    "fsdd")
# Donate-a-Cry uploads count as `crying` only if upstream's curators kept them (its cleaned_subset.txt): of the
# uploads they dropped, most hold no cry the AudioSet network can hear (notebook 02's label audit measures it).
# False: every upload with a valid name, as the study did before.
DONATEACRY_CURATED_ONLY = True
# `normal` sub-categories a cry/scream detector confuses most: human (and infant) vocal sounds that are not
# crying or screaming. Training can weight them up ("hard negatives").
HARD_NEGATIVE_SUBCATEGORIES = (
    "coughing", "laughing", "sneezing", "breathing", "snoring",                 # ESC-50
    "baby_laugh",                                                               # giulbia
    "non_scream_vocal",                                                         # scream_rohanmathur17 negatives
    "speech", "speech_8khz", "adult_speech", "child_speech",                    # GTZAN, FSDD, speechocean762
    "vocal_burst",                                                              # EmoGator
)

# The label audit (`crysense.evaluation.labelaudit`): a clip holds an *audible cry* when the frozen AudioSet YAMNet scores one
# of its cry classes at least this high in at least one 0.96 s patch. The first threshold splits the figures; the
# second shows how much the shares move with it.
CRY_AUDIT_THRESHOLDS = (0.1, 0.3)

MANIFEST_COLUMNS = (
    "file_path", "source", "label", "reason", "group", "license", "sha256", "duration_s",
    "sample_rate", "channels", "split", "segment_start_s", "segment_end_s",
)


@dataclasses.dataclass(frozen=True)
class AudioParams:
    """How raw recordings become model inputs (see README, 'Preprocessing')."""

    sample_rate: int = 16_000        # every clip is decoded to mono float32 at this rate
    min_clip_s: float = 1.0          # shorter recordings are quarantined ("too short")
    max_clip_s: float = 15.0         # a recording up to this long is one clip
    segment_s: float = 5.0           # longer recordings are cut into segments of this length ...
    min_segment_s: float = 5.0       # ... and a tail shorter than this joins the previous segment
    silence_dbfs: float = -50.0      # RMS below this is "near-silent": quarantined, never trained on
    model_input_s: float = 5.0       # models see at least this much: shorter clips are zero-padded
    concat_gap_s: float = 0.2        # silence between short utterances joined into one recording


@dataclasses.dataclass(frozen=True)
class SplitParams:
    fractions: tuple = (0.70, 0.15, 0.15)   # train / val / test, by clip count within each stratum
    seed: int = 20261123


AUDIO = AudioParams()
SPLIT = SplitParams()
SEED = SPLIT.seed


@dataclasses.dataclass(frozen=True)
class Paths:
    root: Path
    data: Path
    cache: Path

    @property
    def manifest(self) -> Path:
        return self.root / "data_manifest.csv"

    @property
    def quarantine(self) -> Path:
        return self.root / "data_quarantine.csv"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def models(self) -> Path:
        return self.root / "models"

    def __repr__(self) -> str:   # as reports show it: no absolute path of the machine that ran it
        return f"Paths(root={shown(self.root)}, data={shown(self.data)}, cache={shown(self.cache)})"

    def ensure(self) -> "Paths":
        for p in (self.root, self.cache, self.plots, self.reports, self.models):
            p.mkdir(parents=True, exist_ok=True)
        return self


def get_paths(root: str | os.PathLike | None = None) -> Paths:
    """Resolve paths; an explicit ``root`` (a papermill parameter) wins over ``CRYSENSE_ROOT``."""
    root = Path(root or os.environ.get("CRYSENSE_ROOT") or REPO_ROOT).resolve()
    cache = Path(os.environ.get("CRYSENSE_CACHE") or REPO_ROOT / "cache").resolve()
    return Paths(root=root, data=data_dir(), cache=cache)


def data_dir() -> Path:
    """The local mirror of the data sources (``CRYSENSE_DATA``; default ``<repo>/../shared/data``)."""
    return Path(os.environ.get("CRYSENSE_DATA") or REPO_ROOT.parent / "shared" / "data").resolve()


def shown(path: str | os.PathLike) -> str:
    """``path`` as a report shows it: relative to the repository (or, for outputs elsewhere, to the output root) where
    it lies under either, else as given. Reports name no absolute path of the machine that ran them."""
    path = Path(path)
    for base in (get_paths().root, REPO_ROOT, REPO_ROOT.parent):
        if path.is_absolute() and path.resolve().is_relative_to(base):
            rel = path.resolve().relative_to(base)
            return str(Path("..") / rel) if base == REPO_ROOT.parent else str(rel)
    return str(path)


def use_root(root: str | os.PathLike | None = None) -> Paths:
    """Make ``root`` (a notebook's ``out_root``) where every output of this process goes, including the
    look-ups that do not take paths explicitly (e.g. the pretrained backbones); returns the paths."""
    if root:
        os.environ["CRYSENSE_ROOT"] = str(Path(root).resolve())
    return get_paths().ensure()


def progress_bar(iterable=None, *, show: bool = True, **kw):
    """A tqdm progress bar for long work, unless ``show`` is False or ``CRYSENSE_PROGRESS=0``: the notebook runner sets
    it, so an executed report holds no bars (each refresh would stand on a line of its own there), while the same
    notebook opened in JupyterLab, or a library call, shows them."""
    from tqdm import tqdm
    return tqdm(iterable, disable=not show or os.environ.get("CRYSENSE_PROGRESS") == "0", **kw)


@dataclasses.dataclass(frozen=True)
class RunParams:
    """Size of a run. ``smoke`` is the tiny setting CI uses to execute every notebook."""

    smoke: bool = False
    files_per_stratum: int | None = None    # None: every file; smoke: a few per (source, label)

    @classmethod
    def make(cls, smoke: bool) -> "RunParams":
        return cls(smoke=True, files_per_stratum=8) if smoke else cls()
