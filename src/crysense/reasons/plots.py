"""Figures of the cry-reason study (notebook 06)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def plot_fold_scores(folds: pd.DataFrame, title: str = "macro-F1 on each outer test fold"):
    import matplotlib.pyplot as plt
    import seaborn as sns
    fig, ax = plt.subplots(figsize=(9, 0.45 * folds["model"].nunique() + 1.5))
    sns.boxplot(data=folds, x="macro_f1", y="model", ax=ax, color="#ddd")
    sns.stripplot(data=folds, x="macro_f1", y="model", ax=ax, hue="fold", palette="tab10", size=6)
    ax.set(title=title, xlabel="macro-F1", ylabel="")
    ax.legend(title="fold", fontsize=7, bbox_to_anchor=(1, 1))
    fig.tight_layout()
    return fig


def pooled_confusion_figure(pooled: pd.DataFrame, model: str, labels):
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix
    d = pooled[pooled["model"] == model]
    cm = confusion_matrix(d["true"], d["pred"], labels=labels)
    share = cm / np.clip(cm.sum(1, keepdims=True), 1, None)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{cm[i, j]}", ha="center", va="center", color="white" if share[i, j] > 0.6 else "black", fontsize=8)
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xlabel="predicted", ylabel="parents' tag",
           title=f"{model}: confusion pooled over outer test folds")
    ax.set_xticklabels(labels, rotation=45, ha="right")
    ax.set_yticklabels(labels)
    fig.tight_layout()
    return fig


def plot_null(results: dict, metric: str = "balanced_accuracy"):
    """One row per setting, one panel per permuted model: the null distribution of ``metric`` (the whole nested CV
    rerun on baby-level permutations of the labels) and the observed score (red)."""
    import matplotlib.pyplot as plt
    settings = [r for r in results.values() if r.permutation]
    ncol = max(len(r.permutation) for r in settings)
    fig, axes = plt.subplots(len(settings), ncol, figsize=(2.6 * ncol, 2.3 * len(settings)), squeeze=False)
    for row, res in zip(axes, settings):
        for ax, (model, p) in zip(row, res.permutation.items()):
            ax.hist(p["null"][metric], bins=20, color="#999")
            ax.axvline(p[metric], color="tab:red", lw=2)
            ax.set_title(f"{model}\np = {p[f'p_{metric}']:.3f} ({p['permutations']} perm.)", fontsize=7)
            ax.tick_params(labelsize=7)
        row[0].set_ylabel(res.name, fontsize=8)
        for ax in row[len(res.permutation):]:
            ax.axis("off")
    fig.suptitle(f"permutation tests ({metric.replace('_', ' ')}): the null distribution and the observed score")
    fig.tight_layout()
    return fig


def plot_leaky(table: pd.DataFrame, metric: str = "balanced_accuracy"):
    """Per model, ``metric`` under the grouped protocol and the leaky ones."""
    import matplotlib.pyplot as plt
    wide = table.pivot_table(index="model", columns="protocol", values=metric, sort=False)
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(wide) + 1.5))
    wide.plot.barh(ax=ax, width=0.8)
    ax.set(xlabel=metric.replace("_", " "), ylabel="", xlim=(0, 1), title="the same models under leaky protocols")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
