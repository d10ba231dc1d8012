"""Build and validate ``data_manifest.csv``: one row per clip, deduplicated, split without leakage.

Pipeline (``build_manifest``):
1. every file of every source, labelled by ``crysense.data.sources`` (files a source rule leaves out, e.g.
   ESC-50 clips that giulbia_baby_cry repeats, go to the quarantine with the reason);
2. decode (cached by content), then quarantine what cannot be used: undecodable, empty, too short;
3. drop exact duplicates (sha256 of decoded audio), first the whole files, then the clips;
4. cut into clips (``audio.segment_bounds``); sources of very short utterances (FSDD) are joined per
   group into clips of ``segment_s`` first; near-silent clips are quarantined;
5. split 70/15/15 by group, stratified by (source, label), seeded (``assign_splits``).
"""
from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import AUDIO, LABELS, MANIFEST_COLUMNS, SPLIT, SPLITS, AudioParams, RunParams, SplitParams, get_paths, progress_bar
from .audio import AudioCache, AudioError, check_clip, rms_dbfs, samples_sha256, segment_bounds
from .recordings import join_same_recordings
from .sources import SOURCES, SourceFile, iter_files, resolve

EXTRA_COLUMNS = ("subcategory",)
QUARANTINE_COLUMNS = ("file_path", "source", "label", "group", "segment_start_s", "segment_end_s", "reason")
_JOINED = re.compile(r"^(?P<dir>.*)/\{(?P<names>[^}]*)\}$")


@dataclasses.dataclass
class ManifestResult:
    manifest: pd.DataFrame
    quarantine: pd.DataFrame
    same_recordings: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)   # groups joined by content

    def save(self, manifest_path, quarantine_path) -> None:
        self.manifest.to_csv(manifest_path, index=False)
        self.quarantine.to_csv(quarantine_path, index=False)


# --- clips made of several short files ------------------------------------------------------------


def joined_file_path(rel_paths: list[str]) -> str:
    """'fsdd/recordings/{0_george_0.wav,0_george_1.wav}': a clip made of these files, in this order."""
    dirs = {p.rsplit("/", 1)[0] for p in rel_paths}
    assert len(dirs) == 1, "joined files must share a folder"
    return f"{dirs.pop()}/{{{','.join(p.rsplit('/', 1)[1] for p in rel_paths)}}}"


def member_paths(file_path: str) -> list[str]:
    m = _JOINED.match(file_path)
    return [f"{m['dir']}/{n}" for n in m["names"].split(",")] if m else [file_path]


def join_samples(parts: list[np.ndarray], params: AudioParams = AUDIO) -> np.ndarray:
    if len(parts) == 1:
        return parts[0]
    gap = np.zeros(int(params.concat_gap_s * params.sample_rate), np.float32)
    out = [parts[0]]
    for p in parts[1:]:
        out += [gap, p]
    return np.concatenate(out)


class ClipLoader:
    """Samples of a manifest row (file_path + segment bounds), from the decoded-audio cache."""

    def __init__(self, cache_dir=None, params: AudioParams = AUDIO):
        self.cache = AudioCache(cache_dir or get_paths().cache, params)
        self.params = params

    def recording(self, file_path: str) -> np.ndarray:
        return join_samples([self.cache.decode(resolve(p)).samples for p in member_paths(file_path)],
                            self.params)

    def load(self, file_path: str, start_s: float = 0.0, end_s: float | None = None) -> np.ndarray:
        samples = self.recording(file_path)
        sr = self.params.sample_rate
        a = int(round(start_s * sr))
        b = len(samples) if end_s is None else int(round(end_s * sr))
        return samples[a:b]

    def load_row(self, row) -> np.ndarray:
        return self.load(row["file_path"], float(row["segment_start_s"]), float(row["segment_end_s"]))


# --- per-file analysis (runs in worker processes) -------------------------------------------------


def _clip_records(samples: np.ndarray, params: AudioParams, join_short: bool):
    """(start, end, sha256, dBFS) of each clip cut from one recording."""
    duration = len(samples) / params.sample_rate
    out = []
    for a, b in segment_bounds(duration, params) if not join_short else [(0.0, round(duration, 4))]:
        seg = samples[int(round(a * params.sample_rate)):int(round(b * params.sample_rate))]
        out.append((a, b, samples_sha256(seg), rms_dbfs(seg)))
    return out


def _analyse(args) -> dict:
    item, cache_dir, params, join_short = args
    cache = AudioCache(cache_dir, params)
    try:
        d = cache.decode(item.path)
        if not join_short:
            check_clip(d.samples, item.path, params, min_s=params.min_clip_s)   # too short
    except AudioError as e:
        return {"error": e.reason}
    return {"error": "", "sha256": samples_sha256(d.samples), "duration_s": d.duration_s,
            "sample_rate": d.orig_sample_rate, "channels": d.channels,
            "clips": None if join_short else _clip_records(d.samples, params, False)}


# --- splits -----------------------------------------------------------------------------------------


def assign_splits(df: pd.DataFrame, split: SplitParams = SPLIT) -> pd.Series:
    """Split label per row: whole groups go to one split; within each (source, label) stratum the
    clip counts approach the target fractions.

    Groups are visited in seeded random order and each goes to the split furthest below its target
    (relative to the target). Random order, not largest-first: largest-first would put every
    many-clip baby in train and leave val/test to one-clip babies, a bias of its own.
    Each stratum has its own generator (seeded by the seed and the stratum's name), so adding a source
    never moves another source's clips between splits.
    """
    stratum = df["source"] + "/" + df["label"]
    groups = (pd.DataFrame({"group": df["group"], "stratum": stratum})
              .groupby("group").agg(n=("stratum", "size"), stratum=("stratum", lambda s: s.mode().iloc[0])))
    frac = np.asarray(split.fractions, float)
    assignment: dict[str, str] = {}
    for name, g in groups.sort_index().groupby("stratum"):
        rng = np.random.default_rng([split.seed, *name.encode()])
        order = g.iloc[rng.permutation(len(g))]
        filled = np.zeros(len(SPLITS))
        total = order["n"].sum()
        for name, n in order["n"].items():
            k = int(np.argmax((frac * total - filled) / frac))
            assignment[name] = SPLITS[k]
            filled[k] += n
    return df["group"].map(assignment)


# --- the builder ----------------------------------------------------------------------------------


def _smoke_sample(items: list[SourceFile], run: RunParams, seed: int) -> list[SourceFile]:
    """A few groups per (source, label, cry reason), at most 40 files each (joined utterances need several).

    Reasons are strata of their own (half as many groups each) so the smoke run can exercise the
    cry-reason notebook with several reasons; files a source's rules leave out (e.g. uncurated Donate-a-Cry
    uploads) are strata of their own too, so the sample holds both kinds.
    """
    rng = np.random.default_rng(seed)
    by_stratum = defaultdict(lambda: defaultdict(list))
    for it in items:
        by_stratum[(it.source, it.label, it.reason, bool(it.exclude_reason))][it.group].append(it)
    keep = []
    for key in sorted(by_stratum):
        groups = sorted(by_stratum[key])
        n = run.files_per_stratum if not key[2] else max(2, run.files_per_stratum // 2)
        for gi in rng.permutation(len(groups))[:n]:
            keep += by_stratum[key][groups[gi]][:40]
    return keep


def build_manifest(run: RunParams = RunParams(), params: AudioParams = AUDIO, split: SplitParams = SPLIT,
                   sources=None, cache_dir=None, workers: int = 2, progress: bool = True) -> ManifestResult:
    cache_dir = Path(cache_dir or get_paths().cache)
    items = list(iter_files(sources))
    if run.files_per_stratum:
        items = _smoke_sample(items, run, split.seed)
    quarantine = []

    def reject(item: SourceFile, reason: str, file_path=None, a="", b=""):
        quarantine.append({"file_path": file_path or item.rel_path, "source": item.source, "label": item.label,
                           "group": item.group, "segment_start_s": a, "segment_end_s": b, "reason": reason})

    usable = []
    for it in items:
        (reject(it, it.exclude_reason) if it.exclude_reason else usable.append(it))
    jobs = [(it, cache_dir, params, SOURCES[it.source].join_short) for it in usable]
    with ProcessPoolExecutor(max(1, workers)) as ex:
        results = list(progress_bar(ex.map(_analyse, jobs, chunksize=8), total=len(jobs), desc="decode + check",
                            show=progress))

    # exact duplicates of whole files: keep the first in registry order
    seen_file: dict[str, str] = {}
    kept = []
    for it, res in zip(usable, results):
        if res["error"]:
            reject(it, res["error"])
        elif res["sha256"] in seen_file:
            reject(it, f"duplicate of {seen_file[res['sha256']]} (same decoded audio)")
        else:
            seen_file[res["sha256"]] = it.rel_path
            kept.append((it, res))

    kept, same = join_same_recordings(kept, cache_dir, params)

    clips = []   # (item, file_path, start, end, sha, dbfs, recording info)
    joined = defaultdict(list)
    for it, res in kept:
        if res["clips"] is None:
            joined[(it.source, it.group)].append((it, res))
        else:
            clips += [(it, it.rel_path, a, b, sha, db, res) for a, b, sha, db in res["clips"]]
    loader = ClipLoader(cache_dir, params)
    for _, members in sorted(joined.items()):
        for pack in _pack_short(members, params):
            fp = joined_file_path([m[0].rel_path for m in pack])
            samples = loader.recording(fp)
            it, res = pack[0]
            if len(samples) / params.sample_rate < params.min_clip_s:
                reject(it, f"too short even joined ({len(samples) / params.sample_rate:.2f} s)", fp)
                continue
            for a, b, sha, db in _clip_records(samples, params, True):
                clips.append((it, fp, a, b, sha, db, res))

    rows, seen_clip = [], {}
    for it, fp, a, b, sha, db, res in clips:
        if db < params.silence_dbfs:
            reject(it, f"near-silent ({db:.1f} dBFS < {params.silence_dbfs:g} dBFS)", fp, a, b)
        elif sha in seen_clip:
            reject(it, f"duplicate of clip {seen_clip[sha]} (same decoded audio)", fp, a, b)
        else:
            seen_clip[sha] = f"{fp}@{a:g}-{b:g}s"
            rows.append({"file_path": fp, "source": it.source, "label": it.label, "reason": it.reason,
                         "group": it.group, "license": SOURCES[it.source].license, "sha256": sha,
                         "duration_s": round(b - a, 4), "sample_rate": res["sample_rate"],
                         "channels": res["channels"], "split": "", "segment_start_s": a, "segment_end_s": b,
                         "subcategory": it.subcategory})
    df = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS) + list(EXTRA_COLUMNS))
    df["split"] = assign_splits(df, split)
    q = pd.DataFrame(quarantine, columns=list(QUARANTINE_COLUMNS))
    return ManifestResult(df.sort_values(["source", "file_path", "segment_start_s"]).reset_index(drop=True), q,
                          pd.DataFrame([dataclasses.asdict(m) for m in same],
                                       columns=["first", "second", "score", "offset_s"]))


def _pack_short(members, params: AudioParams):
    """Join one group's short utterances, in file-name order, into clips of at least ``segment_s``;
    a last pack shorter than ``min_segment_s`` joins the one before."""
    members = sorted(members, key=lambda m: m[0].rel_path)
    packs, cur, dur = [], [], 0.0
    for m in members:
        cur.append(m)
        dur += m[1]["duration_s"] + (params.concat_gap_s if len(cur) > 1 else 0.0)
        if dur >= params.segment_s:
            packs.append(cur)
            cur, dur = [], 0.0
    if cur:
        if packs and dur < params.min_segment_s:
            packs[-1] += cur
        else:
            packs.append(cur)
    return packs


# --- reading and checking -----------------------------------------------------------------------------


def load_manifest(path=None) -> pd.DataFrame:
    path = Path(path or get_paths().manifest)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run notebooks/01_data.ipynb (or ./run_all.sh) first")
    return pd.read_csv(path, keep_default_na=False, dtype={"reason": str, "group": str})


def validate_manifest(df: pd.DataFrame, params: AudioParams = AUDIO) -> list[str]:
    """Everything wrong with a manifest, as sentences (empty list: valid)."""
    problems = []
    missing = set(MANIFEST_COLUMNS) - set(df.columns)
    if missing:
        return [f"missing columns: {sorted(missing)}"]
    if bad := sorted(set(df["label"]) - set(LABELS)):
        problems.append(f"unknown labels: {bad}")
    if bad := sorted(set(df["split"]) - set(SPLITS)):
        problems.append(f"unknown splits: {bad}")
    crossing = df.groupby("group")["split"].nunique()
    if (crossing > 1).any():
        problems.append(f"{int((crossing > 1).sum())} groups span splits, e.g. {list(crossing[crossing > 1].index[:3])}")
    if df["sha256"].duplicated().any():
        problems.append(f"{int(df['sha256'].duplicated().sum())} duplicate clips (sha256)")
    if (df["duration_s"] < params.min_clip_s - 1e-6).any():
        problems.append("clips shorter than min_clip_s")
    if (df["duration_s"] > params.segment_s + params.min_segment_s + 1e-6).any() and \
            (df["duration_s"] > params.max_clip_s + 1e-6).any():
        problems.append("clips longer than the segmentation rule allows")
    return problems
