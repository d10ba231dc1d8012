"""Cry reasons: the settings, the models and the baby-grouped nested (two-level) cross-validation.

Data: Donate-a-Cry clips tagged with a reason by the parents ('dont_know' excluded), deduplicated by decoded
audio (the manifest), grouped by app install (a baby). Three settings (`SETTINGS`): the parents' tags (a
reason is evaluated only if it has at least ``2 x outer_folds`` babies, so every outer test fold can hold some),
upstream's curated 5-reason subset (its folder names as labels), and hungry against every other tag.

Nested CV: outer grouped stratified folds estimate performance; inside each outer training part, inner grouped
folds choose hyper-parameters (HuBERT: learning rate and epochs; linear models: the ridge penalty); the model is refitted
on the whole outer training part and scored once on the outer test fold. No baby is in two folds. Every model is
a function ``fit_predict(y, groups, train_idx, test_idx, cfg) -> (test probabilities, what it chose)`` of the
labels, so the same code scores permuted labels (`crysense.reasons.permutation`) and leaky protocols.
"""
from __future__ import annotations

import dataclasses
import time
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..config import progress_bar
from ..data.clipcache import in_order
from ..speech import transformer as st
from ..speech.backbones import ablation_runs, backbone_source
from ..speech.states import predict_states, state_cache
from ..training.metrics import class_balanced_weights, macro_f1
from ..training.trainset import TrainSet
from .settings import SETTINGS

FAMILY = "hubert"
load_classifier = partial(st.load_classifier, FAMILY)
FitPredict = Callable[..., tuple[np.ndarray, dict]]


@dataclasses.dataclass
class NestedCVConfig:
    outer_folds: int = 5
    inner_folds: int = 2
    learning_rates: tuple = (3e-4,)      # notebook 03's rate: every rate more costs 0.7x of a HuBERT nested CV
    epoch_grid: tuple = (4, 8)          # scored within one inner run (epochs are nested)
    top_layers: int = 1
    batch_size: int = 16
    crop_s: float = 5.0
    alpha_grid: tuple = (10.0, 100.0, 1000.0, 10000.0)   # ridge penalty of the linear models
    seed: int = 0

    @classmethod
    def smoke(cls) -> "NestedCVConfig":
        return cls(outer_folds=2, inner_folds=2, learning_rates=(5e-4,), epoch_grid=(1,), alpha_grid=(100.0,))

    def finetune_config(self, lr: float, epochs: int) -> st.FinetuneConfig:
        # no validation split inside the nested CV to fit a probe's C on: the head starts random, as before LP-FT
        return st.FinetuneConfig(top_layers=self.top_layers, epochs=epochs, lr=lr, batch_size=self.batch_size,
                                 crop_s=self.crop_s, seed=self.seed, patience=epochs, head_init="random", dropout=0.1)


# --- settings --------------------------------------------------------------------------------------------------


def tagged(df: pd.DataFrame) -> pd.DataFrame:
    """Donate-a-Cry clips with a reason tag ('dont_know' is not one)."""
    return df[(df["source"] == "donateacry") & (df["reason"] != "") & (df["reason"] != "dont_know")]


def _keep_reasons(d: pd.DataFrame, min_babies: int):
    table = d.groupby("reason").agg(clips=("sha256", "size"), babies=("group", "nunique"))
    table["evaluated"] = table["babies"] >= min_babies
    table = table.sort_values("clips", ascending=False)
    return d[d["reason"].isin(table.index[table["evaluated"]])].reset_index(drop=True), table


def reason_data(df: pd.DataFrame, outer_folds: int, min_babies: int | None = None):
    """(clips of the evaluated reasons, table of every reason with clips, babies and whether it is evaluated)."""
    return _keep_reasons(tagged(df), min_babies or 2 * outer_folds)


def curated_data(df: pd.DataFrame, subset_file, outer_folds: int):
    """Upstream's curated release (``cleaned_subset.txt``: ``./<reason>/<stem>.wav``), matched to our clips by file
    stem and labelled by its folder (it merged cold_hot into discomfort); a reason needs ``outer_folds`` babies."""
    label_of = {}
    for line in Path(subset_file).read_text().split():
        parts = line.strip("./").split("/")
        label_of[parts[-1].rsplit(".", 1)[0]] = parts[0]
    d = tagged(df)
    stem = d["file_path"].map(lambda p: Path(p).stem)
    d = d[stem.isin(label_of)].assign(reason=stem[stem.isin(label_of)].map(label_of))
    return _keep_reasons(d, outer_folds)


def hungry_data(df: pd.DataFrame, outer_folds: int):
    """Every tagged clip, as 'hungry' or 'not_hungry'."""
    d = tagged(df)
    return _keep_reasons(d.assign(reason=np.where(d["reason"] == "hungry", "hungry", "not_hungry")), outer_folds)


def setting_data(name: str, df: pd.DataFrame, outer_folds: int, subset_file=None):
    if name == "reasons":
        return reason_data(df, outer_folds)
    if name == "curated":
        return curated_data(df, subset_file, outer_folds)
    if name == "hungry":
        return hungry_data(df, outer_folds)
    raise KeyError(f"no setting {name!r}; one of {list(SETTINGS)}")


def label_order(data: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Reasons from most to least frequent, and each clip's index into them."""
    labels = sorted(data["reason"].unique(), key=lambda r: (-int((data["reason"] == r).sum()), r))
    return labels, np.array([labels.index(r) for r in data["reason"]])


# --- models ----------------------------------------------------------------------------------------------------


def folds(y, groups, k, seed):
    from sklearn.model_selection import StratifiedGroupKFold
    return list(StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))


def _columns(proba, classes, n):
    out = np.zeros((len(proba), n))
    out[:, classes] = proba
    return out


def dummy_model(strategy: str) -> FitPredict:
    """An uninformative baseline: 'stratified' (random draws from the training prior), 'most_frequent', 'uniform'."""
    from sklearn.dummy import DummyClassifier

    def fit_predict(y, groups, tr, te, cfg, n_classes):
        m = DummyClassifier(strategy=strategy, random_state=cfg.seed).fit(np.zeros((len(tr), 1)), y[tr])
        # its decisions, one-hot: 'uniform' would otherwise give flat probabilities whose argmax is one class
        return np.eye(n_classes)[m.predict(np.zeros((len(te), 1)))], {}
    return fit_predict


def linear_model(X: np.ndarray) -> FitPredict:
    """Standardised features + a class-balanced ridge classifier (closed form: fast enough for a permutation test
    that reruns the whole nested CV a hundred times), its penalty chosen by inner grouped CV on macro-F1.
    Probabilities: a softmax of the decision values (they rank clips, as ROC AUC needs)."""
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def fit_predict(y, groups, tr, te, cfg, n_classes):
        search = GridSearchCV(make_pipeline(StandardScaler(), RidgeClassifier(class_weight="balanced")),
                              {"ridgeclassifier__alpha": list(cfg.alpha_grid)}, scoring="f1_macro",
                              cv=folds(y[tr], groups[tr], cfg.inner_folds, cfg.seed))
        search.fit(X[tr], y[tr])
        z = search.decision_function(X[te])
        z = np.c_[-z, z] if z.ndim == 1 else z
        z = np.exp(z - z.max(1, keepdims=True))
        return _columns(z / z.sum(1, keepdims=True), search.classes_, n_classes), \
            {"alpha": search.best_params_["ridgeclassifier__alpha"]}
    return fit_predict


def _train_set(states, y, idx, n_classes) -> TrainSet:
    """Clips ``idx`` as recorded (one version each), class-balanced weights."""
    return TrainSet([[states[i]] for i in idx], y[idx], class_balanced_weights(y[idx], n_classes))


def hubert_model(states: list, new_model: Callable, name: str = "HuBERT", progress: bool = False) -> FitPredict:
    """HuBERT's top layers and head fine-tuned on the frozen lower-layer ``states``; inner CV over (learning rate,
    epochs), refit on the outer training part. ``new_model(n_classes)``: a fresh classifier on that backbone."""
    def fit_predict(y, groups, tr, te, cfg, n_classes):
        scores = {}   # (lr, epochs) -> inner macro-F1 per inner fold
        for lr in cfg.learning_rates:
            for itr, iva in folds(y[tr], groups[tr], cfg.inner_folds, cfg.seed):
                itr, iva = tr[itr], tr[iva]

                def score(epoch, m, lr=lr, iva=iva):
                    if epoch in cfg.epoch_grid:
                        pred = predict_states(m, [states[i] for i in iva], cfg.top_layers).argmax(1)
                        scores.setdefault((lr, epoch), []).append(macro_f1(y[iva], pred, n_classes))
                        m.train()

                st.finetune(new_model(n_classes), _train_set(states, y, itr, n_classes),
                            cfg=cfg.finetune_config(lr, max(cfg.epoch_grid)), progress=False, on_epoch=score)
        (lr, epochs), _ = max(scores.items(), key=lambda kv: np.mean(kv[1]))
        model = new_model(n_classes)
        st.finetune(model, _train_set(states, y, tr, n_classes), cfg=cfg.finetune_config(lr, epochs), progress=progress,
                    desc=f"{name} refit lr={lr:g} epochs={epochs}")
        proba = predict_states(model, [states[i] for i in te], cfg.top_layers)
        return proba, {"lr": lr, "epochs": epochs, "inner_macro_f1": float(np.mean(scores[(lr, epochs)]))}
    return fit_predict


def baselines() -> dict[str, FitPredict]:
    return {"random (stratified)": dummy_model("stratified"), "majority class": dummy_model("most_frequent")}


# --- nested cross-validation -----------------------------------------------------------------------------------


def fold_metrics(y_true, y_pred, labels) -> dict:
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=range(len(labels)), average="macro", zero_division=0)
    _, rc, _, _ = precision_recall_fscore_support(y_true, y_pred, labels=range(len(labels)), zero_division=0)
    return {"accuracy": accuracy_score(y_true, y_pred), "macro_precision": p, "balanced_accuracy": r, "macro_f1": f,
            **{f"recall_{lab}": rc[i] for i, lab in enumerate(labels)}}


@dataclasses.dataclass
class NestedCV:
    folds: pd.DataFrame      # per model and outer fold: metrics and what the inner CV chose
    pooled: pd.DataFrame     # per model and clip: outer fold, true and predicted reason, class probabilities
    labels: list
    seconds: dict

    def pooled_scores(self) -> pd.DataFrame:
        """Per model: macro-F1 and balanced accuracy of the pooled out-of-fold predictions (what a permutation
        test compares)."""
        return pd.DataFrame({m: pooled_metrics(d, self.labels) for m, d in self.pooled.groupby("model", sort=False)}).T


def pooled_metrics(pooled: pd.DataFrame, labels) -> dict:
    from sklearn.metrics import balanced_accuracy_score, f1_score
    return {"macro_f1": f1_score(pooled["true"], pooled["pred"], labels=labels, average="macro", zero_division=0),
            "balanced_accuracy": balanced_accuracy_score(pooled["true"], pooled["pred"])}


def nested_cv(y: np.ndarray, groups: np.ndarray, models: dict[str, FitPredict], labels: list, cfg: NestedCVConfig,
              progress: bool = True) -> NestedCV:
    """Every model of ``models`` on the same outer folds of (``y``, ``groups``); each clip predicted once per model."""
    groups = np.asarray(groups)
    outer = folds(y, groups, cfg.outer_folds, cfg.seed)
    for tr, te in outer:   # the guarantee the study rests on: no group in two outer folds
        assert not set(groups[te]) & set(groups[tr])
    rows, pooled, seconds = [], [], {}
    for k, (tr, te) in enumerate(progress_bar(outer, desc="outer folds", show=progress)):
        for name, fit_predict in models.items():
            t0 = time.time()
            proba, chosen = fit_predict(y, groups, tr, te, dataclasses.replace(cfg, seed=cfg.seed + k), len(labels))
            seconds[name] = seconds.get(name, 0) + time.time() - t0
            pred = proba.argmax(1)
            rows.append({"model": name, "fold": k + 1, "n_test": len(te), **fold_metrics(y[te], pred, labels),
                         "chosen": chosen})
            pooled.append(pd.DataFrame({"model": name, "fold": k + 1, "index": te, "true": [labels[t] for t in y[te]],
                                        "pred": [labels[p] for p in pred],
                                        **{f"p_{lab}": proba[:, j] for j, lab in enumerate(labels)}}))
    return NestedCV(pd.DataFrame(rows), pd.concat(pooled, ignore_index=True), list(labels), seconds)


def summary_table(folds: pd.DataFrame, labels) -> pd.DataFrame:
    """mean ± std over outer folds of each metric, one row per model."""
    cols = ["accuracy", "balanced_accuracy", "macro_f1"] + [f"recall_{lab}" for lab in labels]
    g = folds.groupby("model", sort=False)[cols]
    mean, std = g.mean(), g.std(ddof=1).fillna(0)
    return pd.DataFrame({c: [f"{m:.3f} ± {s:.3f}" for m, s in zip(mean[c], std[c])] for c in cols}, index=mean.index)


# --- HuBERT backbones ------------------------------------------------------------------------------------------

VARIANTS = {"chosen": "HuBERT (chosen backbone)", "plain": "HuBERT (plain SSL backbone)",
            "teacher": "HuBERT (teacher-guided backbone)", "random": "HuBERT (random init)"}


def speech_variants(data: pd.DataFrame, clips, cache_dir, cfg: NestedCVConfig, which=("chosen", "plain", "teacher"),
                    source: str | None = None, versions=("orig",)) -> dict:
    """{name: ({version: frozen states of ``data``'s clips, in row order}, new_model(n_classes))} for each HuBERT
    variant in ``which``: the backbone notebook 02b chose (or the configured source), the plain self-supervised and
    the best teacher-guided backbone (when pretrained here and not the chosen one) and a random initialisation of the
    chosen architecture. States are cached per backbone."""
    source = backbone_source(source)
    labels_of = lambda n: [f"c{i}" for i in range(n)]
    chosen = load_classifier(labels_of(2), source=source, seed=cfg.seed)
    makers = {"chosen": lambda n: load_classifier(labels_of(n), source=source, seed=cfg.seed),
              "random": lambda n: load_classifier(labels_of(n), random_init=True, like=chosen, seed=cfg.seed)}
    runs = ablation_runs(FAMILY) if source == "pretrain" else {}   # each unless the probe chose it anyway
    for key, name in (("plain", "plain SSL"), ("teacher", "teacher-guided")):
        if name in runs:
            makers[key] = partial(lambda n, run: load_classifier(labels_of(n), run=run, seed=cfg.seed), run=runs[name])
    out = {}
    for key in [k for k in which if k in makers]:
        probe_model = makers[key](2)
        cache = state_cache(probe_model, cfg.top_layers, cache_dir)
        states = {v: in_order(cache.get(data, v, clips, desc=f"{key} states"), data) for v in versions}
        out[f"{VARIANTS[key]}: {probe_model.config.crysense_backbone}"] = (states, makers[key])
    return out


def pooled_states(states: list[np.ndarray]) -> np.ndarray:
    """Mean and standard deviation over time of each clip's frozen states: the features of a linear probe."""
    return np.stack([np.concatenate([s.mean(0), s.std(0)]) for s in states])
