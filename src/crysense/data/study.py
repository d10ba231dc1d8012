"""Notebook 01's analyses: class counts, durations, spectrograms, the bandwidth confound and the
sample-size justification (test-set precision and a learning curve of a quick classifier)."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..config import AUDIO, LABELS, SPLITS
from .features import logmel
from .manifest import ClipLoader

LABEL_COLORS = {"crying": "#d62728", "screaming": "#9467bd", "normal": "#1f77b4"}


def plot_class_counts(df: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
    t = pd.crosstab(df["split"], df["label"]).reindex(index=list(SPLITS), columns=list(LABELS), fill_value=0)
    t.plot.bar(ax=axes[0], color=[LABEL_COLORS[c] for c in t.columns], rot=0)
    axes[0].set(title="clips per split and label", ylabel="clips")
    for c in axes[0].containers:
        axes[0].bar_label(c, fontsize=8)
    s = pd.crosstab(df["source"], df["label"]).reindex(columns=list(LABELS), fill_value=0)
    s.plot.barh(ax=axes[1], stacked=True, color=[LABEL_COLORS[c] for c in s.columns])
    axes[1].set(title="clips per source and label", xlabel="clips", ylabel="")
    fig.tight_layout()
    return fig


def plot_durations(df: pd.DataFrame):
    import matplotlib.pyplot as plt

    sources = sorted(df["source"].unique())
    fig, axes = plt.subplots(1, len(sources), figsize=(3.0 * len(sources), 3.2), sharey=False)
    for ax, src in zip(np.atleast_1d(axes), sources):
        d = df[df["source"] == src]
        for label in LABELS:
            x = d.loc[d["label"] == label, "duration_s"]
            if len(x):
                ax.hist(x, bins=np.arange(0, 16, 0.5), alpha=0.7, color=LABEL_COLORS[label], label=label)
        ax.set(title=src, xlabel="clip duration (s)")
        ax.axvline(AUDIO.model_input_s, ls=":", c="k", lw=0.8)
    np.atleast_1d(axes)[0].set_ylabel("clips")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.suptitle(f"clip durations (dotted: {AUDIO.model_input_s:g} s model input; shorter clips are zero-padded)")
    fig.tight_layout()
    return fig


def example_rows(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """One clip per (label, source) and, for sources with at most 4 sub-categories, per sub-category."""
    few = df.groupby("source")["subcategory"].transform("nunique") <= 4
    kind = df["label"] + "/" + df["source"] + "/" + df["subcategory"].where(few, "")
    return df.groupby(kind, sort=True).sample(1, random_state=seed).reset_index(drop=True)


def plot_spectrograms(rows: pd.DataFrame, loader: ClipLoader, max_n: int = 12):
    import matplotlib.pyplot as plt


    rows = rows.head(max_n)
    ncol = 4
    nrow = int(np.ceil(len(rows) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 2.6 * nrow), squeeze=False)
    for ax, (_, r) in zip(axes.flat, rows.iterrows()):
        m = logmel(loader.load_row(r)[: 5 * AUDIO.sample_rate])
        ax.imshow(m, origin="lower", aspect="auto", cmap="magma",
                  extent=[0, m.shape[1] / 100, 0, m.shape[0]])
        ax.set_title(f"{r['label']}: {r['source']}\n{r['subcategory']}", fontsize=8,
                     color=LABEL_COLORS[r["label"]])
        ax.set_xlabel("s", fontsize=7)
        ax.set_ylabel("mel band", fontsize=7)
    for ax in axes.flat[len(rows):]:
        ax.axis("off")
    fig.suptitle("log-mel spectrograms (64 bands, 125-7500 Hz): note the empty top half of 8 kHz sources")
    fig.tight_layout()
    return fig


def high_band_fraction(samples: np.ndarray, cutoff_hz: float = 4000.0, sr: int = AUDIO.sample_rate) -> float:
    """Share of the clip's energy above ``cutoff_hz`` (phone audio at 8 kHz has ~0)."""
    spec = np.abs(np.fft.rfft(samples.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / sr)
    total = spec.sum()
    return float(spec[freqs >= cutoff_hz].sum() / total) if total > 0 else 0.0


def bandwidth_table(df: pd.DataFrame, loader: ClipLoader, per_source: int = 40, seed: int = 0) -> pd.DataFrame:
    """Energy above 4 kHz for a sample of clips of each (source, label)."""
    sample = df.groupby(["source", "label"]).sample(frac=1.0, random_state=seed).groupby(["source", "label"]).head(per_source)
    out = sample[["source", "label", "file_path", "sample_rate"]].copy()
    out["energy_above_4khz"] = [high_band_fraction(loader.load_row(r)) for _, r in sample.iterrows()]
    return out.reset_index(drop=True)


def plot_bandwidth(table: pd.DataFrame):
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(10, 4))
    t = table.assign(where=table["source"] + " / " + table["label"])
    t["energy_above_4khz"] = t["energy_above_4khz"].clip(lower=1e-9)
    sns.stripplot(data=t, y="where", x="energy_above_4khz", hue="label", palette=LABEL_COLORS, ax=ax, size=3)
    ax.set(xscale="log", xlabel="fraction of energy above 4 kHz (log)", ylabel="",
           title="bandwidth confound: 8 kHz sources (donateacry, fsdd) have nothing above 4 kHz")
    fig.tight_layout()
    return fig


def wilson_halfwidth(p: float, n: int, z: float = 1.96) -> float:
    """Half-width of the 95 % Wilson interval of a proportion ``p`` measured on ``n`` trials."""
    if n == 0:
        return float("nan")
    denom = 1 + z * z / n
    return float(z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom)


def sample_size_table(df: pd.DataFrame, recall: float = 0.8) -> pd.DataFrame:
    """Per class: clips and groups per split, and how precisely the test split can measure a recall."""
    rows = []
    for label in LABELS:
        d = df[df["label"] == label]
        row = {"label": label}
        for s in SPLITS:
            row[f"{s} clips"] = int((d["split"] == s).sum())
            row[f"{s} groups"] = int(d.loc[d["split"] == s, "group"].nunique())
        n_test = row["test clips"]
        row[f"95% CI half-width of a {recall:.0%} recall on test"] = round(wilson_halfwidth(recall, n_test), 3)
        rows.append(row)
    return pd.DataFrame(rows).set_index("label")


def learning_curve(X_train, y_train, X_val, y_val, fractions=(0.1, 0.25, 0.5, 0.75, 1.0), repeats: int = 3,
                   seed: int = 0, extra_val: dict | None = None) -> pd.DataFrame:
    """Macro-F1 on validation of a logistic regression on log-mel statistics trained on a stratified
    fraction of the training clips. ``extra_val`` adds other evaluation sets (e.g. band-limited)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    evals = {"val": (X_val, y_val), **(extra_val or {})}
    rows = []
    for frac in fractions:
        for rep in range(repeats):
            if frac < 1.0:
                idx, _ = train_test_split(np.arange(len(y_train)), train_size=frac, stratify=y_train,
                                          random_state=seed + rep)
            else:
                idx = np.arange(len(y_train))
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, class_weight="balanced"))
            model.fit(X_train[idx], np.asarray(y_train)[idx])
            for name, (X, y) in evals.items():
                rows.append({"fraction": frac, "n_train": len(idx), "repeat": rep, "eval": name,
                             "macro_f1": f1_score(y, model.predict(X), average="macro")})
            if frac == 1.0:
                break   # the full set has no sampling variance to repeat
    return pd.DataFrame(rows)


def plot_learning_curve(curve: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, d in curve.groupby("eval"):
        g = d.groupby("n_train")["macro_f1"].agg(["mean", "std"]).fillna(0).reset_index()
        ax.errorbar(g["n_train"], g["mean"], yerr=g["std"], marker="o", capsize=3, label=name)
    ax.set(xlabel="training clips", ylabel="validation macro-F1",
           title="learning curve: logistic regression on log-mel statistics")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def summary_markdown(df: pd.DataFrame, quarantine: pd.DataFrame) -> str:
    """The README's data table: clips (groups) per label and split, and what was quarantined."""

    def cells(d):
        return [f"{(d['split'] == s).sum()} ({d.loc[d['split'] == s, 'group'].nunique()})" for s in SPLITS] + \
            [f"{len(d)} ({d['group'].nunique()})"]

    def table(by: str, keys) -> list[str]:
        lines = [f"| {by} | " + " | ".join(SPLITS) + " | total |", "|---|" + "---:|" * (len(SPLITS) + 1)]
        lines += [f"| {k} | " + " | ".join(cells(df[df[by] == k])) + " |" for k in keys]
        return lines + ["| **all** | " + " | ".join(cells(df)) + " |"]

    kinds = quarantine["reason"].map(reason_kind).value_counts()
    left_out = ", ".join(f"{n} {k}" for k, n in kinds.items())
    return ("Clips (groups) per split, from `data_manifest.csv`:\n\n" + "\n".join(table("label", LABELS)) +
            "\n\nPer source:\n\n" + "\n".join(table("source", sorted(df["source"].unique()))) +
            f"\n\nLeft out ({len(quarantine)}, listed with reasons in `data_quarantine.csv`): {left_out}.")


def view_examples(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """One training clip per label, for showing what augmentation does to it."""
    train = df[df["split"] == "train"]
    return train.groupby("label").sample(1, random_state=seed).reset_index(drop=True)


def plot_views(rows: pd.DataFrame, clips, views: int):
    """Log-mel spectrograms of each clip (a row) as recorded and in its augmented views, titled by what was done."""
    import matplotlib.pyplot as plt


    fig, axes = plt.subplots(len(rows), views + 1, figsize=(3.6 * (views + 1), 2.5 * len(rows)), squeeze=False)
    for axrow, (_, r) in zip(axes, rows.iterrows()):
        for k, ax in enumerate(axrow):
            version = "orig" if k == 0 else f"view{k - 1}"
            m = logmel(clips.audio(r, version)[: 6 * AUDIO.sample_rate])
            ax.imshow(m, origin="lower", aspect="auto", cmap="magma", extent=[0, m.shape[1] / 100, 0, m.shape[0]])
            rec = clips.recipe(r, version)
            what = "as recorded" if rec is None else ", ".join(filter(None, [
                f"shift {rec.shift_s:+.2f} s" if rec.shift_s else "", "room" if rec.rir >= 0 else "",
                f"+{rec.background_source} {rec.snr_db:.0f} dB" if rec.background else "",
                rec.channel, f"{rec.gain_db:+.0f} dB"]))
            ax.set_title(f"{r['label']} ({r['source']})\n{what}" if k == 0 else what, fontsize=7,
                         color=LABEL_COLORS[r["label"]] if k == 0 else "black")
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("augmented views: the same clip in other rooms, over other sounds, through other codecs")
    fig.tight_layout()
    return fig


# --- tables of the manifest ----------------------------------------------------------------------------


def reason_kind(reason: str) -> str:
    """'near-silent (-61.2 dBFS < -50 dBFS)' -> 'near-silent'; 'duplicate of x (...)' -> 'duplicate'; 'not in ...: why' ->
    'not in ...'."""
    return re.split(r" \(| of | even |: ", reason, maxsplit=1)[0]


def quarantine_summary(q: pd.DataFrame) -> pd.DataFrame:
    """Quarantined files or clips per reason and source."""
    if q.empty:
        return pd.DataFrame()
    return pd.crosstab(q["reason"].map(reason_kind), q["source"], margins=True, margins_name="total")


def counts(df: pd.DataFrame, by="label") -> pd.DataFrame:
    """Clip counts: rows ``by``, columns the splits, with totals."""
    t = pd.crosstab(df[by], df["split"], margins=True, margins_name="total")
    return t.reindex(columns=[s for s in (*SPLITS, "total") if s in t.columns])
