"""The set-up every notebook shares, in one call: ``study = setup(smoke, out_root)`` gives the run's paths and size,
and on first use the manifest, the clip loader, the augmentation of the run and the clip versions built on them."""
from __future__ import annotations

import dataclasses
from functools import cached_property

import numpy as np
import pandas as pd

from ..config import LABELS, Paths, RunParams, use_root
from .augment import AugmentParams
from .clipcache import ClipVersions
from .manifest import ClipLoader, load_manifest


@dataclasses.dataclass
class Study:
    smoke: bool
    paths: Paths
    run: RunParams
    labels: list = dataclasses.field(default_factory=lambda: list(LABELS))

    @cached_property
    def df(self) -> pd.DataFrame:
        """The manifest (``data_manifest.csv`` under the run's root; notebook 01 writes it)."""
        return load_manifest(self.paths.manifest)

    @cached_property
    def loader(self) -> ClipLoader:
        return ClipLoader(self.paths.cache)

    @cached_property
    def augment(self) -> AugmentParams:
        return AugmentParams.for_run(self.smoke)

    @cached_property
    def clips(self) -> ClipVersions:
        return ClipVersions(self.df, self.loader, self.augment, self.paths.cache)

    def y(self, split: str) -> np.ndarray:
        """Each clip's label index, in manifest order, of one split."""
        return np.array([self.labels.index(v) for v in self.df.loc[self.df["split"] == split, "label"]])


def setup(smoke: bool, out_root: str | None = "") -> Study:
    """A notebook's first call: ``out_root`` (a papermill parameter; empty for the repository) becomes where every
    output of the process goes (`config.use_root`)."""
    return Study(smoke=smoke, paths=use_root(out_root or None), run=RunParams.make(smoke))
