"""What a pretrained backbone learned (notebook 02b): linear probes on frozen features, loss curves, and the
rule that picks the backbone the fine-tuning notebooks load.

The probe: logistic regression (`ensemble.fit_embedding_member`, classes balanced) on time-pooled frozen
features of training clips, scored on the validation split. Pretraining helps only if a pretrained backbone's
probe beats the same architecture randomly initialised; the log-mel statistics probe is the floor.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch

from ..config import AUDIO, progress_bar
from ..data.features import clip_features
from ..training.linear import fit_embedding_member
from .backbones import FAMILIES, load_backbone, random_backbone, resolve_backbone, run_name
from .inputs import normalise


@torch.no_grad()
def pooled_features(backbone, clips: list[np.ndarray], max_s: float = 10.0, batch: int = 8,
                    progress: bool = True) -> np.ndarray:
    """Mean over time of the last hidden state of each clip (first ``max_s`` seconds, normalised)."""

    backbone.eval()
    n_max = int(max_s * AUDIO.sample_rate)
    order = np.argsort([min(len(c), n_max) for c in clips])   # similar lengths together: little padding
    feats = [None] * len(clips)
    for i in progress_bar(range(0, len(order), batch), desc="features", show=progress):
        idx = order[i:i + batch]
        n = max(AUDIO.sample_rate, max(min(len(clips[j]), n_max) for j in idx))
        x = np.zeros((len(idx), n), np.float32)
        lengths = []
        for r, j in enumerate(idx):
            c = clips[j][:n_max]
            x[r, : len(c)] = normalise(c[None])[0]
            lengths.append(len(c))
        h = backbone(torch.from_numpy(x)).last_hidden_state
        frames = backbone._get_feat_extract_output_lengths(torch.tensor(lengths))
        for r, j in enumerate(idx):
            feats[j] = h[r, : max(1, int(frames[r]))].mean(0).numpy()
    return np.stack(feats) if feats else np.zeros((0, 0))


def linear_probe(train_X, train_y, val_X, val_y, seed: int = 0) -> dict:
    """Logistic regression on frozen features: validation accuracy and macro-F1."""
    from sklearn.metrics import accuracy_score, f1_score

    pred = fit_embedding_member(np.asarray(train_X), np.asarray(train_y), seed=seed).predict(val_X)
    return {"val_accuracy": float(accuracy_score(val_y, pred)), "val_macro_f1": float(f1_score(val_y, pred, average="macro"))}


def install_chosen(pretrained_dir, family: str, run: str, probe_rows: list[dict] | None = None) -> Path:
    """Copy the chosen run's folder to ``<pretrained_dir>/<family>/``, what fine-tuning loads by default, with
    ``probe.json``: every probed backbone of the family (the fine-tuning ablations read which to compare)."""
    import json
    pretrained_dir = Path(pretrained_dir)
    dst = pretrained_dir / family
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(pretrained_dir / run, dst)
    (dst / "chosen_run.txt").write_text(run + "\n")
    rows = [r for r in (probe_rows or []) if r.get("family") == family]
    (dst / "probe.json").write_text(json.dumps(rows, indent=1, default=float))
    return dst


def plot_pretraining(summaries: dict):
    """Loss per step of each pretraining run (raw and smoothed), one panel per run."""
    import matplotlib.pyplot as plt
    import pandas as pd

    n = len(summaries)
    cols = min(3, n)
    fig, axes = plt.subplots(-(-n // cols), cols, figsize=(5.5 * cols, 3.6 * -(-n // cols)), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax, (name, s) in zip(axes.flat, summaries.items()):
        h = pd.DataFrame(s["history"])
        smooth = lambda c, h=h: h[c].rolling(max(1, len(h) // 20), min_periods=1).mean()
        ax.plot(h["step"], h["loss"], alpha=0.3, label="loss per step")
        ax.plot(h["step"], smooth("loss"), label="smoothed")
        for c in [c for c in h.columns if c.startswith(("contrastive", "embedding_last", "scores_last"))]:
            ax.plot(h["step"], smooth(c), "--", label=f"{c} (smoothed)")
        ax.set(title=f"{name}: {s['steps']} steps, {s['wall_seconds'] / 60:.1f} min", xlabel="step", ylabel="loss")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_probe(probe):
    """Validation macro-F1 of the linear probe per family and backbone."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 3.8))
    t = probe.pivot_table(index="family", columns="backbone", values="val_macro_f1", sort=False)
    t.plot.bar(ax=ax, rot=0)
    ax.set(ylabel="validation macro-F1", title="linear probe on frozen, time-pooled features", ylim=(0, 1))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def probe_backbones(backbones: dict, train_clips, train_y, val_clips, val_y, floor: tuple | None = None,
                    seed: int = 0, progress: bool = True):
    """The probe of every backbone (``{(family, backbone label, objective, size, run): model}``) and, as the
    floor, of ``floor`` = (train features, val features) (log-mel statistics). One row each."""
    import pandas as pd
    rows = []
    if floor is not None:
        rows.append({"family": "(none)", "backbone": "log-mel statistics (floor)", "objective": "", "size": "", "run": "",
                     **linear_probe(floor[0], train_y, floor[1], val_y, seed)})
    for (family, label, objective, size, run), model in backbones.items():
        Xtr = pooled_features(model, train_clips, max_s=5.0, progress=progress)
        Xva = pooled_features(model, val_clips, max_s=5.0, progress=progress)
        rows.append({"family": family, "backbone": label, "objective": objective, "size": size, "run": run,
                     **linear_probe(Xtr, train_y, Xva, val_y, seed)})
    return pd.DataFrame(rows)


OBJECTIVE_LABELS = {"ssl": "plain self-supervised", "distill": "teacher-guided: distillation",
                    "teacher_kmeans": "teacher-guided: YAMNet k-means targets"}


def study_backbones(runs, pretrained_dir, seed: int = 0) -> dict:
    """The backbones the probe compares: every pretraining run of ``runs`` (loaded from ``pretrained_dir``) and,
    for each (family, size) among them, the same architecture randomly initialised."""
    out = {}
    for family, size in dict.fromkeys((f, s) for f, _, s in runs):
        out[(family, f"random init ({size})", "random", size, "")] = random_backbone(family, size, seed)
    for family, objective, size in runs:
        name = run_name(family, objective, size)
        out[(family, f"{OBJECTIVE_LABELS[objective]} ({size})", objective, size, name)] = \
            load_backbone(family, str(Path(pretrained_dir) / name))
    return out


def probe_study(df, loader, runs, pretrained_dir, source: str, train_clips: int, seed: int = 0):
    """Notebook 02b's evidence: the probe (``probe_backbones``) of every pretraining run and its random-init twin
    (``study_backbones``), or of the configured backbones when nothing was pretrained here, trained on at most
    ``train_clips`` training clips (stratified by label) and scored on the whole validation split, beside the
    log-mel statistics floor."""
    train, val = df[df["split"] == "train"], df[df["split"] == "val"]
    probe_train = train.groupby("label").sample(frac=min(1.0, train_clips / len(train)), random_state=seed)
    models = study_backbones(runs, pretrained_dir, seed) if runs else \
        {(f, f"configured source ({source})", "configured", "", ""): load_backbone(f, resolve_backbone(f, source))
         for f in FAMILIES}
    floor = (clip_features(probe_train), clip_features(val))
    return probe_backbones(models, [loader.load_row(r) for _, r in probe_train.iterrows()], probe_train["label"].values,
                           [loader.load_row(r) for _, r in val.iterrows()], val["label"].values, floor, seed)
