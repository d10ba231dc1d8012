"""Metrics and the figures every model notebook shows: classification report + confusion matrix,
training curves. (Ensemble-level statistics build on these.)"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .config import LABELS


def metrics(y_true, proba: np.ndarray, labels=LABELS) -> dict:
    """Accuracy, macro precision / recall / F1 and per-class recall of argmax predictions."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    labels = list(labels)
    y = np.asarray([labels.index(v) for v in y_true]) if not np.issubdtype(np.asarray(y_true).dtype, np.integer) \
        else np.asarray(y_true)
    pred = np.argmax(proba, axis=1)
    p, r, f, _ = precision_recall_fscore_support(y, pred, labels=range(len(labels)), average="macro", zero_division=0)
    _, rc, fc, support = precision_recall_fscore_support(y, pred, labels=range(len(labels)), zero_division=0)
    out = {"n": int(len(y)), "accuracy": float(accuracy_score(y, pred)), "macro_precision": float(p),
           "macro_recall": float(r), "macro_f1": float(f)}
    for i, lab in enumerate(labels):
        out[f"recall_{lab}"] = float(rc[i])
        out[f"f1_{lab}"] = float(fc[i])
        out[f"n_{lab}"] = int(support[i])
    return out


def metrics_table(results: dict[str, dict]) -> pd.DataFrame:
    """{name: metrics(...)} -> a table with the headline columns first."""
    df = pd.DataFrame(results).T
    first = ["n", "accuracy", "macro_f1", "macro_precision", "macro_recall"] + [f"recall_{c}" for c in LABELS]
    return df[[c for c in first if c in df.columns] + [c for c in df.columns if c not in first]]


def classification_report_figure(y_true, proba: np.ndarray, title: str, labels=LABELS):
    """One page: the text classification report beside the confusion matrix (counts and row shares)."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import classification_report, confusion_matrix

    labels = list(labels)
    y = np.asarray([labels.index(v) for v in y_true])
    pred = np.argmax(proba, axis=1)
    report = classification_report(y, pred, labels=range(len(labels)), target_names=labels, digits=3, zero_division=0)
    cm = confusion_matrix(y, pred, labels=range(len(labels)))
    share = cm / np.clip(cm.sum(axis=1, keepdims=True), 1, None)
    fig, (ax_t, ax_c) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1.1, 1]})
    ax_t.axis("off")
    ax_t.text(0, 0.95, report, family="monospace", fontsize=9, va="top")
    ax_c.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax_c.text(j, i, f"{cm[i, j]}\n{share[i, j]:.0%}", ha="center", va="center",
                      color="white" if share[i, j] > 0.6 else "black", fontsize=9)
    ax_c.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=labels, yticklabels=labels,
             xlabel="predicted", ylabel="true", title="confusion matrix (count, share of true class)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_history(history: pd.DataFrame, title: str):
    """Loss and accuracy per epoch (train / validation / band-limited validation), stages shaded."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, what in zip(axes, ("loss", "acc")):
        for col, style in ((f"train_{what}", "-"), (f"val_{what}", "-"), (f"val_{what}_bl4k", "--")):
            if col in history:
                ax.plot(history["epoch"], history[col], style, marker=".", label=col.replace("_", " "))
        if "stage" in history:
            for stage, d in history.groupby("stage", sort=False):
                if stage != history["stage"].iloc[0]:
                    ax.axvspan(d["epoch"].min() - 0.5, d["epoch"].max() + 0.5, alpha=0.1, color="gray")
                    ax.text(d["epoch"].min(), ax.get_ylim()[1], stage, va="top", fontsize=8)
        ax.set(xlabel="epoch", ylabel="loss (class-weighted CE)" if what == "loss" else "accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def predictions_frame(df: pd.DataFrame, proba: np.ndarray, labels=LABELS) -> pd.DataFrame:
    """Per-clip probabilities, keyed like the manifest (for the ensemble)."""
    out = df[["file_path", "segment_start_s", "segment_end_s", "sha256", "source", "label", "split"]].copy()
    for i, lab in enumerate(labels):
        out[f"p_{lab}"] = proba[:, i]
    out["pred"] = [labels[i] for i in np.argmax(proba, axis=1)]
    return out.reset_index(drop=True)


def per_source_table(pred: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per (source, label) of a predictions frame: does the model only recognise corpora?"""
    return (pred.assign(correct=pred["pred"] == pred["label"])
            .groupby(["source", "label"])["correct"].agg(["size", "mean"])
            .rename(columns={"size": "clips", "mean": "accuracy"}).round(3))
