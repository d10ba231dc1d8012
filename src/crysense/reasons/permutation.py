"""How much to believe a cry-reason score: permutation tests under the grouped protocol, the leaky protocols the
high-scoring papers use, a baby-identity probe, chance levels, and ROC AUC with a baby-level interval."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import progress_bar
from ..evaluation.scoring import cluster_bootstrap
from .nested_cv import NestedCVConfig, nested_cv, pooled_metrics


def baby_permutation(y: np.ndarray, groups: np.ndarray, rng) -> np.ndarray:
    """Labels exchanged between babies: each baby receives, in order, the labels of another baby with the same
    number of clips. Under the null (the audio says nothing about the reason) this relabelling is as likely as the
    real one, and it keeps what the grouped protocol depends on: how many clips each baby has and how its tags
    mix."""
    y_new = y.copy()
    by_size: dict[int, list] = {}
    for idx in pd.Series(np.arange(len(y))).groupby(np.asarray(groups)).indices.values():
        by_size.setdefault(len(idx), []).append(np.sort(idx))
    for blocks in by_size.values():
        for dst, src in zip(blocks, rng.permutation(len(blocks))):
            y_new[dst] = y[blocks[src]]
    return y_new


def permutation_test(y, groups, models: dict, labels, cfg: NestedCVConfig, observed: pd.DataFrame,
                     permutations: dict[str, int], seed: int = 0, n_jobs: int = 1, progress: bool = True) -> dict:
    """Per model: the pooled macro-F1 and balanced accuracy of the whole nested CV rerun on ``permutations[model]``
    baby-level permutations of the labels, and the p-values of ``observed`` (`NestedCV.pooled_scores`):
    (1 + #{null >= observed}) / (1 + permutations). Permutation i is the same relabelling for every model."""
    from joblib import Parallel, delayed
    rngs = np.random.SeedSequence(seed).spawn(max(permutations.values(), default=0))
    perms = [baby_permutation(y, groups, np.random.default_rng(s)) for s in rngs]

    permuted = {name: models[name] for name in permutations}   # what the workers receive: not the other models

    def one(name, i):
        res = nested_cv(perms[i], groups, {name: permuted[name]}, labels, cfg, progress=False)
        return name, i, pooled_metrics(res.pooled, labels)

    jobs = [(name, i) for name, n in permutations.items() for i in range(n)]
    done = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(one)(name, i) for name, i in jobs)
    null: dict[str, list] = {name: [] for name in permutations}
    for name, _, scores in progress_bar(done, total=len(jobs), desc="permutations", show=progress):
        null[name].append(scores)
    out = {}
    for name, scores in null.items():
        d = pd.DataFrame(scores)
        out[name] = {"permutations": len(d), "null": d.to_dict(orient="list"),
                     **{f"{m}": float(observed.loc[name, m]) for m in ("macro_f1", "balanced_accuracy")},
                     **{f"p_{m}": float((1 + (d[m] >= observed.loc[name, m] - 1e-12).sum()) / (1 + len(d)))
                        for m in ("macro_f1", "balanced_accuracy")}}
    return out


def chance_levels(y: np.ndarray, n_classes: int) -> dict:
    """Expected macro-F1 of three uninformative decision rules at these class frequencies (balanced accuracy is
    1 / n_classes for all of them): always the majority class; a draw from the class frequencies; a uniform draw.
    A class-weighted model that learns nothing behaves like the uniform draw, which is why it can score below the
    'random' baseline in macro-F1 and still be exactly at chance."""
    p = np.bincount(y, minlength=n_classes) / len(y)

    def f1(prec, rec):
        return np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-12), 0.0)
    majority = np.zeros(n_classes)
    majority[p.argmax()] = f1(p.max(), 1.0)
    return {"majority class": float(majority.mean()), "draw from class frequencies": float(f1(p, p).mean()),
            "uniform draw": float(f1(p, np.full(n_classes, 1 / n_classes)).mean()),
            "balanced accuracy, any uninformative rule": 1 / n_classes}


def leaky_protocols(y, groups, models: dict, labels, cfg: NestedCVConfig, augmented: tuple[int, dict] | None = None,
                    progress: bool = True) -> pd.DataFrame:
    """The same models and nested CV under (a) a random clip-level split (a baby's clips on both sides) and (b)
    augmentation before that split (copies of one clip on both sides), beside the grouped protocol.
    ``augmented``: (copies, {model: fit_predict over the rows [originals, view 1, ..., view copies - 1]}) for (b);
    its labels are ``y`` repeated. Returns pooled macro-F1 and balanced accuracy per model and protocol."""
    n = len(y)
    runs = {"grouped by baby (the study)": (y, groups, models), "random clip split": (y, np.arange(n), models)}
    if augmented:
        copies, aug_models = augmented
        runs["augmented, then random split"] = (np.tile(y, copies), np.arange(n * copies), aug_models)
    rows = []
    for protocol, (yy, gg, mm) in runs.items():
        res = nested_cv(yy, gg, mm, labels, cfg, progress=progress)
        for model, scores in res.pooled_scores().iterrows():
            rows.append({"protocol": protocol, "model": model, **scores.to_dict()})
    return pd.DataFrame(rows)


def identity_probe(features: dict[str, np.ndarray], groups: np.ndarray, min_clips: int = 3, seed: int = 0,
                   alpha: float = 100.0) -> pd.DataFrame:
    """How well each feature set recognises the baby (app install) of a clip, among babies with at least
    ``min_clips`` clips: a standardised ridge classifier, stratified ``min_clips``-fold CV over clips. Chance: one over the
    number of babies (or the largest baby's share)."""
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    groups = np.asarray(groups)
    counts = pd.Series(groups).value_counts()
    keep = np.isin(groups, counts.index[counts >= min_clips])
    babies, target = np.unique(groups[keep], return_inverse=True)
    cv = StratifiedKFold(n_splits=min_clips, shuffle=True, random_state=seed)
    rows = []
    for name, X in features.items():
        pred = cross_val_predict(make_pipeline(StandardScaler(), RidgeClassifier(alpha=alpha)),
                                 X[keep], target, cv=cv)
        rows.append({"features": name, "babies": len(babies), "clips": int(keep.sum()),
                     "identity_accuracy": float(np.mean(pred == target)),
                     "chance": float(np.bincount(target).max() / len(target))})
    return pd.DataFrame(rows).set_index("features")


def auc_with_ci(pooled: pd.DataFrame, positive: str, groups: np.ndarray, n_boot: int = 1000, seed: int = 0) -> dict:
    """ROC AUC of p(``positive``) over the pooled out-of-fold predictions of one model, with a 95 % interval from a
    bootstrap over babies (clips of a baby are not independent). ``groups``: each pooled row's baby."""
    from sklearn.metrics import roc_auc_score
    t = (pooled["true"] == positive).to_numpy()
    s = pooled[f"p_{positive}"].to_numpy()
    stats = [roc_auc_score(t[idx], s[idx]) for idx in cluster_bootstrap(groups, n_boot, seed) if 0 < t[idx].sum() < len(idx)]
    lo, hi = np.quantile(stats, [0.025, 0.975]) if stats else (np.nan, np.nan)
    return {"roc_auc": float(roc_auc_score(t, s)), "roc_auc_low": float(lo), "roc_auc_high": float(hi)}
