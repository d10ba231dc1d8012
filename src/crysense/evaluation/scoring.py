"""Metrics and the figures every model notebook shows: classification report + confusion matrix,
training curves. (Ensemble-level statistics build on these.)"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import LABELS
from ..training.metrics import macro_f1, metrics


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


# --- statistics for the ensemble evaluation -----------------------------------------------------------------


def bootstrap_ci(y: np.ndarray, proba: np.ndarray, groups, metric=None, n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float, float, float]:
    """(point, low, high) of ``metric(y, pred)`` with a 95 % interval from a *cluster* bootstrap: whole groups
    (babies, recordings, speakers) are resampled, since clips of one group are not independent."""
    n = proba.shape[1]
    metric = metric or (lambda yt, yp: macro_f1(yt, yp, n))
    pred = proba.argmax(axis=1)
    stats = [metric(y[idx], pred[idx]) for idx in cluster_bootstrap(groups, n_boot, seed)]
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(metric(y, pred)), float(lo), float(hi)


def cluster_bootstrap(groups, n_boot: int, seed: int = 0):
    """``n_boot`` index arrays, each a resample of whole groups with replacement (as many groups as there are)."""
    uniq, inv = np.unique(np.asarray(groups), return_inverse=True)
    members = [np.flatnonzero(inv == g) for g in range(len(uniq))]
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        yield np.concatenate([members[g] for g in rng.integers(0, len(uniq), len(uniq))])


def mcnemar(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> dict:
    """Exact McNemar test: do a and b err on different clips more often than chance allows?"""
    from scipy.stats import binomtest
    a_right, b_right = pred_a == y, pred_b == y
    only_a, only_b = int(np.sum(a_right & ~b_right)), int(np.sum(~a_right & b_right))
    p = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return {"only_first_right": only_a, "only_second_right": only_b, "p_value": float(p)}


def expected_calibration_error(y: np.ndarray, proba: np.ndarray, bins: int = 10) -> tuple[float, pd.DataFrame]:
    """ECE of the top-class confidence, and the per-bin table behind the reliability diagram."""
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    rows, ece = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
            rows.append({"bin_low": lo, "bin_high": hi, "clips": int(m.sum()), "confidence": conf[m].mean(),
                         "accuracy": correct[m].mean()})
    return float(ece), pd.DataFrame(rows)


def per_source_figure(per_source: pd.DataFrame, title: str = "test accuracy per source and label"):
    """Heat map of ``per_source`` (rows: source and label; columns: systems; a ``clips`` column is left out)."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    fig, ax = plt.subplots(figsize=(9, 4.5))
    sns.heatmap(per_source.drop(columns="clips", errors="ignore"), annot=True, fmt=".2f", vmin=0, vmax=1,
                cmap="RdYlGn", ax=ax)
    ax.set(title=title, xlabel="", ylabel="")
    return fig


def reliability_figure(y: np.ndarray, probas: dict[str, np.ndarray], bins: int = 10):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="perfectly calibrated")
    for name, p in probas.items():
        ece, table = expected_calibration_error(y, p, bins)
        ax.plot(table["confidence"], table["accuracy"], marker="o", label=f"{name} (ECE {ece:.3f})")
    ax.set(xlabel="confidence (top-class probability)", ylabel="accuracy", title="reliability diagram (test)",
           xlim=(0, 1), ylim=(0, 1))
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def roc_pr_figure(y: np.ndarray, probas: dict[str, np.ndarray], labels=LABELS, kind: str = "roc"):
    """One-vs-rest ROC (with AUC) or precision-recall (with average precision) curves, a panel per class."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve
    fig, axes = plt.subplots(1, len(labels), figsize=(5 * len(labels), 4.4))
    for k, (ax, lab) in enumerate(zip(axes, labels)):
        yk = (y == k).astype(int)
        for name, p in probas.items():
            if kind == "roc":
                fpr, tpr, _ = roc_curve(yk, p[:, k])
                ax.plot(fpr, tpr, label=f"{name} (AUC {auc(fpr, tpr):.3f})")
            else:
                prec, rec, _ = precision_recall_curve(yk, p[:, k])
                ax.plot(rec, prec, label=f"{name} (AP {average_precision_score(yk, p[:, k]):.3f})")
        if kind == "roc":
            ax.plot([0, 1], [0, 1], "k:", lw=1)
            ax.set(xlabel="false positive rate", ylabel="true positive rate")
        else:
            ax.axhline(yk.mean(), color="k", ls=":", lw=1)
            ax.set(xlabel="recall", ylabel="precision")
        ax.set_title(f"{lab} vs rest")
        ax.legend(fontsize=7, loc="lower right" if kind == "roc" else "lower left")
        ax.grid(alpha=0.3)
    fig.suptitle("one-vs-rest ROC curves (test)" if kind == "roc" else "precision-recall curves (test)")
    fig.tight_layout()
    return fig


def one_vs_rest_auc(y: np.ndarray, proba: np.ndarray, labels=LABELS) -> dict:
    from sklearn.metrics import roc_auc_score
    return {f"auc_{lab}": float(roc_auc_score((y == k).astype(int), proba[:, k])) for k, lab in enumerate(labels)}


def chance_baselines(train_labels, n: int, seed: int = 0, labels=LABELS) -> dict[str, np.ndarray]:
    """What a classifier that ignores the audio scores: labels drawn from the training split's class frequencies,
    and the majority class (the frequencies as its probabilities), for ``n`` clips."""
    prior = pd.Series(train_labels).value_counts(normalize=True).reindex(list(labels), fill_value=0.0).to_numpy()
    drawn = np.random.default_rng(seed).choice(len(labels), n, p=prior)
    return {"baseline: random (train class frequencies)": np.eye(len(labels))[drawn],
            "baseline: majority class": np.tile(prior, (n, 1))}


def test_table(systems: dict[str, np.ndarray], y: np.ndarray, groups, n_boot: int, seed: int = 0,
               band_limited: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Each system's test figures: the metrics, macro-F1's bootstrap interval over ``groups``, expected calibration
    error, one-vs-rest AUCs, and macro-F1 on the band-limited clips where ``band_limited`` has the system."""
    rows = {}
    for name, p in systems.items():
        _, lo, hi = bootstrap_ci(y, p, groups, n_boot=n_boot, seed=seed)
        ece, _ = expected_calibration_error(y, p)
        rows[name] = {**metrics(y, p), "macro_f1_ci_low": lo, "macro_f1_ci_high": hi, "ece": ece, **one_vs_rest_auc(y, p)}
        if name in (band_limited or {}):
            rows[name]["macro_f1_band_limited_4khz"] = metrics(y, band_limited[name])["macro_f1"]
    return metrics_table(rows)


def reload_gap(predict, expected, clips, tolerance: float = 1e-4) -> float:
    """Largest |predict(clip) - expected| over ``clips``: a saved model, reloaded, against what the study reported.
    At or above ``tolerance`` it raises, since the saved model would not reproduce the study's figures."""
    gap = max(float(np.abs(predict(x) - e).max()) for x, e in zip(clips, expected, strict=True))
    if gap >= tolerance:
        raise AssertionError(f"the reloaded model's probabilities differ by up to {gap:.2e} (tolerance {tolerance:g})")
    return gap


def predictions_name(name: str, split: str, version: str = "orig") -> str:
    """How a member's saved predictions are named: ``<name>_<split>`` for the clips as recorded, ``<name>_<split>_<version>``
    for another version (e.g. ``yamnet_test_bl4k``)."""
    return f"{name}_{split}" if version == "orig" else f"{name}_{split}_{version}"


def save_predictions(pred_dir, name: str, df: pd.DataFrame, proba: dict, labels=LABELS) -> list:
    """Write ``proba[(split, version)]`` (rows in the manifest's order of that split) as ``<pred_dir>/<name>_...csv``,
    the files ``load_predictions`` reads back; returns their paths."""
    from pathlib import Path
    pred_dir = Path(pred_dir)
    pred_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for (split, version), p in proba.items():
        written.append(pred_dir / f"{predictions_name(name, split, version)}.csv")
        predictions_frame(df[df["split"] == split], p, labels).to_csv(written[-1], index=False)
    return written


def load_predictions(pred_dir, name: str, df: pd.DataFrame, split: str, version: str = "orig",
                     labels=LABELS) -> np.ndarray:
    """Saved per-clip probabilities of ``name`` on ``split`` (``version`` e.g. 'bl4k'), checked against the manifest."""
    from pathlib import Path
    path = Path(pred_dir) / f"{predictions_name(name, split, version)}.csv"
    pred = pd.read_csv(path)
    expected = df.loc[df["split"] == split, "sha256"].tolist()
    if pred["sha256"].tolist() != expected:
        raise ValueError(f"{path} does not match the manifest's {split} clips: re-run the notebook that wrote it")
    return pred[[f"p_{lab}" for lab in labels]].to_numpy()
