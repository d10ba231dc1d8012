"""Clips in several versions, and what frozen networks make of them, computed once and cached by content.

A *version* of a manifest row is its audio as recorded (``orig``), 8 kHz round-tripped (``bl4k``: nothing
above 4 kHz, the bandwidth ablation) or augmented (``view<k>``, `crysense.data.augment`). ``ClipCache`` keeps any
per-clip array computed from a version (YAMNet trunk activations, Wav2Vec2/HuBERT lower-layer states) on
disk under ``<cache>/<tag>/<version>/<entry>.npy``: the tag names the computation (network and weights), the
entry the clip's decoded audio (sha256) and, for a view, what made it (``ClipVersions.entry``), so a changed
model, clip or augmentation never reads a stale entry.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..config import progress_bar
from .audio import band_limit, save_atomic
from .augment import AugmentParams, ViewMaker, ViewRecipe


def _save(path: Path, array: np.ndarray) -> None:
    save_atomic(path, lambda tmp: np.save(tmp, array))


class ClipVersions:
    """The waveform of a manifest row in a given version; rendered views are cached as 16-bit audio."""

    def __init__(self, df: pd.DataFrame, loader, augment: AugmentParams = AugmentParams(), cache_dir=None):
        self.df, self.loader, self.augment = df, loader, augment
        self.cache_dir = Path(cache_dir or loader.cache.dir.parent)
        self.dir = self.cache_dir / "augment" / f"views_{augment.key()}"
        self._maker = None
        self._recipes: dict = {}

    @property
    def maker(self) -> ViewMaker:
        if self._maker is None:
            self._maker = ViewMaker(self.df, self.loader, self.augment, self.cache_dir)
        return self._maker

    def entry(self, row, version: str) -> str:
        """The cache name of ``version`` of ``row``: its sha256, and for a view what made it (augmentation
        parameters and the drawn recipe: a view drawn from another background pool is another entry)."""
        if not version.startswith("view"):
            return row["sha256"]
        recipe = json.dumps(dataclasses.asdict(self.recipe(row, version)), sort_keys=True)
        return f"{row['sha256']}_{version}_{hashlib.sha256((self.augment.key() + recipe).encode()).hexdigest()[:12]}"

    def audio(self, row, version: str) -> np.ndarray:
        if version == "orig":
            return self.loader.load_row(row)
        if version == "bl4k":
            return band_limit(self.loader.load_row(row))
        if not version.startswith("view"):
            raise ValueError(f"unknown version {version!r}")
        path = self.dir / f"{self.entry(row, version)}.npy"
        if path.exists():
            return np.load(path).astype(np.float32) / 32767.0
        x, _ = self.maker.render(row, int(version[4:]))
        _save(path, np.round(x * 32767).astype(np.int16))
        return x

    def recipe(self, row, version: str) -> ViewRecipe | None:
        """What was done to make ``version`` of ``row`` (None for 'orig' and 'bl4k'); drawn once per process."""
        if not version.startswith("view"):
            return None
        key = (row["sha256"], version)
        if key not in self._recipes:
            self._recipes[key] = self.maker.recipe(row, int(version[4:]))
        return self._recipes[key]

    def view_table(self, rows: pd.DataFrame, views: int) -> pd.DataFrame:
        """One row per (clip, view): its recipe (background source and group included), for filtering and
        for the report."""
        groups = self.df.set_index("sha256")["group"]
        out = []
        for _, row in rows.iterrows():
            for k in range(views):
                r = self.recipe(row, f"view{k}")
                out.append({"sha256": row["sha256"], "version": f"view{k}", **r.__dict__,
                            "background_group": groups.get(r.background, "") if r.background else ""})
        return pd.DataFrame(out)

    def render(self, rows: pd.DataFrame, versions, workers: int = 2, progress: bool = True) -> None:
        """Render and cache the missing augmented views of ``rows`` (in parallel: ffmpeg and convolution)."""
        from concurrent.futures import as_completed

        todo = [(i, v) for i, (_, row) in enumerate(rows.iterrows()) for v in versions
                if v.startswith("view") and not (self.dir / f"{self.entry(row, v)}.npy").exists()]
        if not todo:
            return
        if workers <= 1 or len(todo) < 32:
            _render_chunk(self, rows.iloc[[i for i, _ in todo]], [v for _, v in todo])
            return
        chunks = [todo[i:i + 64] for i in range(0, len(todo), 64)]
        # spawned, not forked: the caller may hold TensorFlow / PyTorch thread pools that a fork would copy
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as ex, \
                progress_bar(total=len(todo), desc="augmented views", show=progress) as bar:
            futures = [ex.submit(_render_chunk, self, rows.iloc[[i for i, _ in c]], [v for _, v in c]) for c in chunks]
            for f in as_completed(futures):
                bar.update(f.result())


def _render_chunk(versions: ClipVersions, rows: pd.DataFrame, which: list[str]) -> int:
    for (_, row), v in zip(rows.iterrows(), which):
        versions.audio(row, v)
    return len(which)


class ClipCache:
    """Per-(clip, version) arrays computed by ``compute(waveform)``, cached on disk under ``tag``."""

    def __init__(self, cache_dir, tag: str, compute: Callable[[np.ndarray], np.ndarray], dtype=np.float16):
        self.dir = Path(cache_dir) / tag
        self.compute, self.dtype = compute, dtype

    def get(self, rows: pd.DataFrame, version: str, clips: ClipVersions, progress: bool = True,
            desc: str = "") -> dict[str, np.ndarray]:
        """{sha256: array} for every row, computing what is not cached yet."""
        out = {}
        for _, row in progress_bar(rows.iterrows(), total=len(rows), desc=f"{desc or self.dir.name} ({version})",
                           show=progress):
            f = self.dir / version / f"{clips.entry(row, version)}.npy"
            if f.exists():
                out[row["sha256"]] = np.load(f)
                continue
            a = np.asarray(self.compute(clips.audio(row, version))).astype(self.dtype)
            _save(f, a)
            out[row["sha256"]] = a
        return out

    def inputs(self, df: pd.DataFrame, clips: ClipVersions, train_versions=(), progress: bool = True,
               desc: str = "") -> dict[str, dict[str, np.ndarray]]:
        """{version: {sha256: array}}: 'orig' of every clip, 'bl4k' of the validation and test clips (the
        bandwidth ablation), and ``train_versions`` (e.g. a recipe's views) of the training clips."""
        train, held = df[df["split"] == "train"], df[df["split"] != "train"]
        views = [v for v in train_versions if v.startswith("view")]
        if views:
            clips.render(train, views, progress=progress)
        out = {"orig": self.get(df, "orig", clips, progress, desc), "bl4k": self.get(held, "bl4k", clips, progress, desc)}
        for v in train_versions:
            if v != "orig":
                out[v] = {**out.get(v, {}), **self.get(train, v, clips, progress, desc)}
        return out


def in_order(inputs: dict[str, np.ndarray], rows: pd.DataFrame) -> list[np.ndarray]:
    """The inputs of ``rows`` (one version's {sha256: array}) as a list in the rows' order."""
    return [inputs[s] for s in rows["sha256"]]
