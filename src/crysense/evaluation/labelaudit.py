"""Is there a cry to hear? The `crying` labels audited by the frozen AudioSet YAMNet.

A source's `crying` label says what its collectors meant to record, not what each clip holds. Donate-a-Cry
uploads were recorded by parents in an app whenever they chose; some hold speech, babbling or room noise and
little or no crying. The audit asks the pretrained AudioSet network, trained on none of our sources, whether it
hears a cry anywhere in a clip: the highest score of its cry classes (*Baby cry, infant cry*, *Crying, sobbing*,
*Whimper*, the zero-shot map's) over the clip's 0.96 s patches, against `config.CRY_AUDIT_THRESHOLDS`.

Read as a diagnostic, not as ground truth: AudioSet YAMNet misses some cries and hears some in laughs and
moans (the share of audible cries in `normal` sources says how often). It explains what the grouped test cannot:
how much of a held-out corpus's missed crying is clips where no cry can be heard at all (`recall_by_audibility`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import CRY_AUDIT_THRESHOLDS, progress_bar
from ..data.donateacry import NOT_CURATED
from ..yamnet.model import ZERO_SHOT_MAP


def cry_scores(base, acts: dict[str, np.ndarray], rows: pd.DataFrame) -> pd.Series:
    """Per clip (indexed by sha256), the highest AudioSet cry-class score over its patches; ``acts``: cached
    trunk activations {sha256: [patches, ...]} of one version (`yamnet.trunk_cache`)."""
    cols = [base.class_names.index(c) for c in ZERO_SHOT_MAP["crying"]]
    scores = base.clip_max_scores([acts[s] for s in rows["sha256"]])[:, cols].max(axis=1)
    return pd.Series(scores, index=rows["sha256"].to_numpy(), name="cry_score")


def audibility_table(rows: pd.DataFrame, scores: dict[str, pd.Series], thresholds=CRY_AUDIT_THRESHOLDS) -> pd.DataFrame:
    """Per (source, label): clips, and the share whose cry score reaches each threshold, for each version in
    ``scores`` ({version name: `cry_scores`}); rows without a score in a version are left out of its columns."""
    out = rows.groupby(["source", "label"]).size().rename("clips").to_frame()
    for version, s in scores.items():
        have = rows[rows["sha256"].isin(s.index)]
        for t in thresholds:
            heard = have.assign(heard=s.reindex(have["sha256"]).to_numpy() >= t)
            out[f"audible cry ≥ {t:g} ({version})"] = heard.groupby(["source", "label"])["heard"].mean()
    return out


def recall_by_audibility(pred: pd.DataFrame, scores: pd.Series, label: str = "crying",
                         threshold: float = CRY_AUDIT_THRESHOLDS[0]) -> pd.DataFrame:
    """Recall of ``label`` per (system, recipe, held-out source) on its clips with and without an audible cry,
    and their counts (``pred``: leave-one-source-out predictions, `loso.LosoRun.predictions`)."""
    d = pred[pred["label"] == label]
    heard = scores.reindex(d["sha256"]).to_numpy() >= threshold
    out = {}
    for name, mask in (("audible cry", heard), ("no audible cry", ~heard)):
        g = d[mask].assign(correct=d.loc[mask, "pred"] == label).groupby(["system", "recipe", "held_out"])["correct"]
        out[f"recall ({name})"], out[f"clips ({name})"] = g.mean(), g.size()
    return pd.DataFrame(out).fillna({f"clips ({n})": 0 for n in ("audible cry", "no audible cry")})


def recording_cry_scores(base, file_paths, loader, progress: bool = True) -> np.ndarray:
    """The cry score (as ``cry_scores``) of whole recordings that are not manifest clips, e.g. quarantined ones."""
    cols = [base.class_names.index(c) for c in ZERO_SHOT_MAP["crying"]]
    acts = [base.trunk_activations(loader.recording(fp)) for fp in progress_bar(file_paths, desc="cry scores", show=progress)]
    return base.clip_max_scores(acts)[:, cols].max(axis=1) if acts else np.zeros(0)


def curation_table(base, scores: pd.Series, df: pd.DataFrame, quarantine: pd.DataFrame, loader,
                   source: str = "donateacry", thresholds=CRY_AUDIT_THRESHOLDS, progress: bool = True) -> pd.DataFrame:
    """Does a source's curation keep the cries? Per kind of upload: the ``source`` clips the study keeps (their
    ``scores``, `cry_scores`) and each curation reason of the quarantine (near-silent, duplicate and broken files
    aside), the recordings and the share whose cry score reaches each threshold."""
    left = quarantine[(quarantine["source"] == source) & quarantine["reason"].str.startswith(NOT_CURATED)]
    parts = {"kept (curated)": scores.reindex(df.loc[df["source"] == source, "sha256"]).to_numpy()}
    for reason, d in left.groupby("reason", sort=True):
        parts[f"left out: {reason.split(': ', 1)[-1]}"] = recording_cry_scores(base, list(d["file_path"]), loader, progress)
    return pd.DataFrame([{"uploads": kind, "recordings": len(v),
                          **{f"audible cry ≥ {t:g}": float(np.mean(v >= t)) if len(v) else np.nan for t in thresholds}}
                         for kind, v in parts.items()]).set_index("uploads")


def plot_cry_scores(rows: pd.DataFrame, scores: pd.Series, thresholds=CRY_AUDIT_THRESHOLDS):
    """Distribution (complementary CDF) of the cry score per (source, label): how many clips of each reach a score."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    grid = np.logspace(-3, 0, 200)
    for ax, is_cry in zip(axes, (True, False)):
        for (source, label), d in rows.groupby(["source", "label"]):
            if (label == "crying") != is_cry:
                continue
            s = scores.reindex(d["sha256"]).dropna().to_numpy()
            if len(s):
                ax.plot(grid, [(s >= g).mean() for g in grid], label=f"{source} / {label} ({len(s)})")
        for t in thresholds:
            ax.axvline(t, color="k", ls=":", lw=1)
        ax.set(xlabel="highest AudioSet cry-class score in any 0.96 s patch", xscale="log", xlim=(1e-3, 1),
               title="clips labelled crying" if is_cry else "clips labelled screaming or normal")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("share of clips reaching the score")
    fig.suptitle("Is there a cry to hear? The frozen AudioSet YAMNet on every clip (dotted: the audit's thresholds)")
    fig.tight_layout()
    return fig
