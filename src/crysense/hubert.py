"""Cry reasons with a lightweight HuBERT, against baselines, by nested (two-level) cross-validation.

Data: Donate-a-Cry clips tagged with a reason by the parents ('dont_know' excluded), deduplicated by decoded
audio (the manifest), grouped by app install (a baby). A reason is evaluated only if it has at least
``2 x outer_folds`` babies, so that every outer test fold can hold some; the others are left out and reported.

Nested CV: outer grouped stratified folds estimate performance; inside each outer training part, inner grouped
folds choose hyper-parameters (HuBERT: learning rate and epochs; logistic regression: C); the model is refitted
on the whole outer training part and scored once on the outer test fold. No baby is in two folds.
"""
from __future__ import annotations

import dataclasses
import time
from functools import partial

import numpy as np
import pandas as pd

from . import speech_transformer as st
from .training import class_balanced_weights
from .trainset import TrainSet

FAMILY = "hubert"
load_classifier = partial(st.load_classifier, FAMILY)


@dataclasses.dataclass
class NestedCVConfig:
    outer_folds: int = 5
    inner_folds: int = 2
    learning_rates: tuple = (1e-4, 5e-4)
    epoch_grid: tuple = (4, 8)          # scored within one inner run (epochs are nested)
    top_layers: int = 1
    batch_size: int = 16
    crop_s: float = 5.0
    c_grid: tuple = (0.01, 0.1, 1.0)    # logistic regression baselines
    seed: int = 0

    @classmethod
    def smoke(cls) -> "NestedCVConfig":
        return cls(outer_folds=2, inner_folds=2, learning_rates=(5e-4,), epoch_grid=(1,), c_grid=(1.0,))

    def finetune_config(self, lr: float, epochs: int) -> st.FinetuneConfig:
        return st.FinetuneConfig(top_layers=self.top_layers, epochs=epochs, lr=lr, batch_size=self.batch_size,
                                 crop_s=self.crop_s, seed=self.seed, patience=epochs)


def reason_data(df: pd.DataFrame, outer_folds: int, min_babies: int | None = None):
    """(clips of the evaluated reasons, table of every reason with clips, babies and whether it is evaluated)."""
    min_babies = min_babies or 2 * outer_folds
    d = df[(df["source"] == "donateacry") & (df["reason"] != "") & (df["reason"] != "dont_know")]
    table = d.groupby("reason").agg(clips=("sha256", "size"), babies=("group", "nunique"))
    table["evaluated"] = table["babies"] >= min_babies
    table = table.sort_values("clips", ascending=False)
    keep = table.index[table["evaluated"]]
    return d[d["reason"].isin(keep)].reset_index(drop=True), table


def _folds(y, groups, k, seed):
    from sklearn.model_selection import StratifiedGroupKFold
    return list(StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))


def _fold_metrics(y_true, y_pred, labels) -> dict:
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=range(len(labels)), average="macro", zero_division=0)
    _, rc, _, _ = precision_recall_fscore_support(y_true, y_pred, labels=range(len(labels)), zero_division=0)
    return {"accuracy": accuracy_score(y_true, y_pred), "macro_precision": p, "macro_recall": r, "macro_f1": f,
            **{f"recall_{lab}": rc[i] for i, lab in enumerate(labels)}}


def _macro_f1(y_true, y_pred, n):
    from sklearn.metrics import f1_score
    return f1_score(y_true, y_pred, labels=range(n), average="macro", zero_division=0)


def _logreg_nested(X, y, groups, tr, te, cfg, n_inner):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    inner = _folds(y[tr], groups[tr], n_inner, cfg.seed)
    search = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, class_weight="balanced")),
                          {"logisticregression__C": list(cfg.c_grid)}, scoring="f1_macro", cv=inner)
    search.fit(X[tr], y[tr])
    return search.predict(X[te]), {"C": search.best_params_["logisticregression__C"]}


def _train_set(states, y, idx, n_classes) -> TrainSet:
    """Clips ``idx`` as recorded (one version each), class-balanced weights."""
    return TrainSet([[states[i]] for i in idx], y[idx], class_balanced_weights(y[idx], n_classes))


def _hubert_nested(states, new_model, y, groups, tr, te, cfg, labels, progress, name="HuBERT"):
    """Inner CV over (learning rate, epochs), refit on the outer training part, predict the outer test fold.
    ``new_model(labels)``: a fresh classifier on the backbone whose frozen states ``states`` holds."""
    n = len(labels)
    scores = {}   # (lr, epochs) -> inner macro-F1 per inner fold
    for lr in cfg.learning_rates:
        for itr, iva in _folds(y[tr], groups[tr], cfg.inner_folds, cfg.seed):
            itr, iva = tr[itr], tr[iva]
            model = new_model(labels)

            def score(epoch, m, lr=lr, iva=iva):
                if epoch in cfg.epoch_grid:
                    pred = st.predict_states(m, [states[i] for i in iva], cfg.top_layers).argmax(1)
                    scores.setdefault((lr, epoch), []).append(_macro_f1(y[iva], pred, n))
                    m.train()

            st.finetune(model, _train_set(states, y, itr, n), cfg=cfg.finetune_config(lr, max(cfg.epoch_grid)),
                        progress=False, on_epoch=score)
    (lr, epochs), _ = max(scores.items(), key=lambda kv: np.mean(kv[1]))
    model = new_model(labels)
    st.finetune(model, _train_set(states, y, tr, n), cfg=cfg.finetune_config(lr, epochs), progress=progress,
                desc=f"{name} refit lr={lr:g} epochs={epochs}")
    pred = st.predict_states(model, [states[i] for i in te], cfg.top_layers).argmax(1)
    return pred, {"lr": lr, "epochs": epochs, "inner_macro_f1": float(np.mean(scores[(lr, epochs)]))}


def nested_cv(data: pd.DataFrame, speech: dict, features: dict[str, np.ndarray], cfg: NestedCVConfig,
              progress: bool = True):
    """Every model on the same outer folds. Returns (per-fold metrics, pooled out-of-fold predictions, the reason
    labels in order, seconds per model).

    ``speech``: name -> (frozen lower-layer states per clip, ``new_model(labels)``) for each HuBERT variant (one per
    backbone); ``features``: name -> [clips, d] for logistic regression baselines.
    """
    from sklearn.dummy import DummyClassifier
    from tqdm import tqdm

    labels = sorted(data["reason"].unique(), key=lambda r: -int((data["reason"] == r).sum()))
    y = np.array([labels.index(r) for r in data["reason"]])
    groups = data["group"].to_numpy()
    outer = _folds(y, groups, cfg.outer_folds, cfg.seed)
    for a in range(len(outer)):   # the guarantee the study rests on: no baby in two outer folds
        assert not set(groups[outer[a][1]]) & set(groups[outer[a][0]])
    rows, pooled, seconds = [], [], {}
    for k, (tr, te) in enumerate(tqdm(outer, desc="outer folds", disable=not progress)):
        preds, chosen = {}, {}
        for name, strategy in (("random (stratified)", "stratified"), ("majority class", "most_frequent")):
            preds[name] = DummyClassifier(strategy=strategy, random_state=cfg.seed + k).fit(np.zeros((len(tr), 1)), y[tr]) \
                .predict(np.zeros((len(te), 1)))
        for name, X in features.items():
            t0 = time.time()
            preds[name], chosen[name] = _logreg_nested(X, y, groups, tr, te, cfg, cfg.inner_folds)
            seconds[name] = seconds.get(name, 0) + time.time() - t0
        for name, (states, new_model) in speech.items():
            t0 = time.time()
            preds[name], chosen[name] = _hubert_nested(states, new_model, y, groups, tr, te, cfg, labels, progress, name)
            seconds[name] = seconds.get(name, 0) + time.time() - t0
        for name, pred in preds.items():
            rows.append({"model": name, "fold": k + 1, "n_test": len(te), **_fold_metrics(y[te], pred, labels),
                         "chosen": chosen.get(name, "")})
            pooled += [{"model": name, "fold": k + 1, "true": labels[t], "pred": labels[p]} for t, p in zip(y[te], pred)]
    return pd.DataFrame(rows), pd.DataFrame(pooled), labels, seconds


def summary_table(folds: pd.DataFrame, labels) -> pd.DataFrame:
    """mean ± std over outer folds of each metric, one row per model."""
    cols = ["accuracy", "macro_precision", "macro_recall", "macro_f1"] + [f"recall_{lab}" for lab in labels]
    g = folds.groupby("model", sort=False)[cols]
    mean, std = g.mean(), g.std(ddof=1).fillna(0)
    return pd.DataFrame({c: [f"{m:.3f} ± {s:.3f}" for m, s in zip(mean[c], std[c])] for c in cols}, index=mean.index)


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


def plot_fold_scores(folds: pd.DataFrame):
    import matplotlib.pyplot as plt
    import seaborn as sns
    fig, ax = plt.subplots(figsize=(9, 3.8))
    sns.boxplot(data=folds, x="macro_f1", y="model", ax=ax, color="#ddd")
    sns.stripplot(data=folds, x="macro_f1", y="model", ax=ax, hue="fold", palette="tab10", size=6)
    ax.set(title="macro-F1 on each outer test fold", xlabel="macro-F1", ylabel="")
    ax.legend(title="fold", fontsize=7, bbox_to_anchor=(1, 1))
    fig.tight_layout()
    return fig


VARIANTS = {"chosen": "HuBERT (chosen backbone)", "plain": "HuBERT (plain SSL backbone)",
            "random": "HuBERT (random init)"}


def speech_variants(data: pd.DataFrame, clips, cache_dir, cfg: NestedCVConfig, which=("chosen", "plain", "random"),
                    source: str | None = None) -> dict:
    """{name: (frozen states of ``data``'s clips, new_model(labels))} for each HuBERT variant in ``which``: the
    backbone notebook 02b chose (or the configured source), its plain self-supervised baseline (when pretrained
    here) and a random initialisation of the chosen architecture. States are cached per backbone."""
    from .backbones import backbone_source, chosen_run, plain_run
    from .clipcache import in_order
    source = backbone_source(source)
    chosen = load_classifier(["x", "y"], source=source, seed=cfg.seed)
    makers = {"chosen": lambda labels: load_classifier(labels, source=source, seed=cfg.seed),
              "random": lambda labels: load_classifier(labels, random_init=True, like=chosen, seed=cfg.seed)}
    plain = plain_run(FAMILY) if source == "pretrain" else None
    if plain and plain != chosen_run(FAMILY):   # the plain baseline, unless the probe chose it anyway
        makers["plain"] = lambda labels: load_classifier(labels, run=plain, seed=cfg.seed)
    out = {}
    for key in [k for k in which if k in makers]:
        probe_model = makers[key](["x", "y"])
        states = st.state_cache(probe_model, cfg.top_layers, cache_dir).get(data, "orig", clips, desc=f"{key} states")
        out[f"{VARIANTS[key]}: {probe_model.config.crysense_backbone}"] = (in_order(states, data), makers[key])
    return out
