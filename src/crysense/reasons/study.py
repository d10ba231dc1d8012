"""Notebook 06's study, one function per step: the features of every tagged clip (computed once, shared by the
settings), a setting's models, its nested CV with permutation tests, the leaky protocols, and the report."""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

from ..data.features import clip_features, logmel_stats
from . import nested_cv as cr
from . import permutation as rt


@dataclasses.dataclass
class ReasonFeatures:
    rows: pd.DataFrame       # every tagged Donate-a-Cry clip; each setting is a subset
    clip: dict               # name -> [rows, d]: the linear (ridge) models' features
    speech: dict             # name -> ({version: [states per row]}, new_model(n_classes)): the fine-tuned HuBERTs
    views: dict              # clip feature name -> [rows x views, d]: originals then each view (augmented protocol)
    seconds: float

    def index(self, data: pd.DataFrame) -> np.ndarray:
        pos = pd.Series(np.arange(len(self.rows)), index=self.rows["sha256"])
        return pos.loc[data["sha256"]].to_numpy()


def probe_name(speech_name: str) -> str:
    return f"{speech_name.split(':')[0]} frozen, pooled + ridge"


def reason_features(df: pd.DataFrame, clips, cache_dir, cfg: cr.NestedCVConfig, variants=("chosen", "plain"),
                    source: str | None = None, views: int = 0, progress: bool = True) -> ReasonFeatures:
    """Log-mel statistics, frozen YAMNet embeddings and frozen HuBERT states (each variant) of every tagged clip;
    with ``views``, the same linear features of that many augmented views of each clip (rendered and cached)."""
    from ..yamnet.model import embeddings_of, load_yamnet  # lazy: TensorFlow, only to embed the tagged clips
    t0 = time.time()
    rows = cr.tagged(df).reset_index(drop=True)
    versions = [f"view{k}" for k in range(views)]
    if versions:
        clips.render(rows, versions, progress=progress)
    base = load_yamnet()
    speech = cr.speech_variants(rows, clips, cache_dir, cfg, variants, source)
    first = next(iter(speech))
    clip = {"log-mel statistics + ridge": clip_features(rows, progress=progress),
            "YAMNet embeddings + ridge": embeddings_of(base, rows, clips, cache_dir, progress=progress),
            probe_name(first): cr.pooled_states(speech[first][0]["orig"])}
    view_feats = {}
    if versions:
        chosen = next(iter(cr.speech_variants(rows, clips, cache_dir, cfg, variants[:1], source, versions=versions).values()))
        per_view = {"log-mel statistics + ridge": [np.stack([logmel_stats(clips.audio(r, v)) for _, r in rows.iterrows()])
                                                    for v in versions],
                    "YAMNet embeddings + ridge": [embeddings_of(base, rows, clips, cache_dir, v, progress) for v in versions],
                    probe_name(first): [cr.pooled_states(chosen[0][v]) for v in versions]}
        view_feats = {n: np.concatenate([clip[n], *xs]) for n, xs in per_view.items()}
    return ReasonFeatures(rows, clip, speech, view_feats, time.time() - t0)


def setting_models(feats: ReasonFeatures, idx: np.ndarray, speech=None) -> dict:
    """The baselines, every linear feature set and the fine-tuned HuBERTs named in ``speech`` (None: all of them),
    on rows ``idx``."""
    models = {**cr.baselines(), "uniform draw": cr.dummy_model("uniform")}
    models.update({n: cr.linear_model(X[idx]) for n, X in feats.clip.items()})
    models.update({n: cr.hubert_model([states["orig"][i] for i in idx], new, n) for n, (states, new) in feats.speech.items()
                   if speech is None or n in speech})
    return models


@dataclasses.dataclass
class SettingResult:
    name: str
    data: pd.DataFrame
    reasons: pd.DataFrame
    cv: cr.NestedCV
    permutation: dict
    chance: dict
    auc: dict
    seconds: dict

    def table(self) -> pd.DataFrame:
        """Per model: pooled macro-F1 and balanced accuracy, fold mean ± std, permutation p-values (and AUC)."""
        scores = self.cv.pooled_scores()
        spread = self.cv.folds.groupby("model", sort=False)["macro_f1"].agg(["mean", "std"])
        out = pd.DataFrame({"macro_f1": scores["macro_f1"], "balanced_accuracy": scores["balanced_accuracy"],
                            "macro_f1_folds": [f"{m:.3f} ± {s:.3f}" for m, s in zip(spread["mean"], spread["std"])]})
        for col in ("p_macro_f1", "p_balanced_accuracy", "permutations"):
            out[col] = [self.permutation.get(m, {}).get(col, np.nan) for m in out.index]
        for col in ("roc_auc", "roc_auc_low", "roc_auc_high"):
            if self.auc:
                out[col] = [self.auc.get(m, {}).get(col, np.nan) for m in out.index]
        return out


def run_setting(name: str, df: pd.DataFrame, feats: ReasonFeatures, cfg: cr.NestedCVConfig, permutations: int,
                speech_permutations: int, subset_file=None, speech=None, n_jobs: int = 2,
                progress: bool = True) -> SettingResult:
    """One setting: nested CV of every model (the fine-tuned HuBERTs named in ``speech``; None: all), then
    ``permutations`` baby-level permutations of each cheap model (``n_jobs`` at once) and ``speech_permutations`` of
    each fine-tuned HuBERT (one at a time: PyTorch uses the cores), the chance levels, and for the binary setting
    the ROC AUC of p(hungry) with a baby-bootstrap interval."""
    data, reasons = cr.setting_data(name, df, cfg.outer_folds, subset_file)
    labels, y = cr.label_order(data)
    groups = data["group"].to_numpy()
    models = setting_models(feats, feats.index(data), speech)
    t0 = time.time()
    cv = cr.nested_cv(y, groups, models, labels, cfg, progress=progress)
    seconds = {"nested_cv": time.time() - t0}
    observed, perm = cv.pooled_scores(), {}
    for counts, jobs in (({m: permutations for m in models if m not in feats.speech}, n_jobs),
                         ({m: speech_permutations for m in models if m in feats.speech}, 1)):
        t0 = time.time()
        counts = {m: n for m, n in counts.items() if n > 0}
        perm.update(rt.permutation_test(y, groups, models, labels, cfg, observed, counts, seed=cfg.seed, n_jobs=jobs,
                                        progress=progress) if counts else {})
        seconds["permutations (fine-tuned)" if jobs == 1 else "permutations"] = time.time() - t0
    auc = {}
    if name == "hungry":
        for model, d in cv.pooled.groupby("model", sort=False):
            auc[model] = rt.auc_with_ci(d, "hungry", groups[d["index"].to_numpy()], seed=cfg.seed)
    return SettingResult(name, data, reasons, cv, perm, rt.chance_levels(y, len(labels)), auc, seconds)


def leaky(feats: ReasonFeatures, result: SettingResult, cfg: cr.NestedCVConfig, speech: bool = False,
          progress: bool = True) -> pd.DataFrame:
    """`reason_tests.leaky_protocols` on ``result``'s setting: the linear models (and with ``speech`` the
    fine-tuned HuBERTs, random clip split only) under the leaky protocols."""
    labels, y = cr.label_order(result.data)
    idx = feats.index(result.data)
    models = {k: v for k, v in setting_models(feats, idx, None if speech else []).items() if k != "uniform draw"}
    augmented = None
    if feats.views:
        n, copies = len(feats.rows), len(next(iter(feats.views.values()))) // len(feats.rows)
        rows_of = np.concatenate([idx + k * n for k in range(copies)])
        augmented = (copies, {**cr.baselines(), **{m: cr.linear_model(X[rows_of]) for m, X in feats.views.items()}})
    return rt.leaky_protocols(y, result.data["group"].to_numpy(), models, labels, cfg, augmented, progress)


def identity(feats: ReasonFeatures, min_clips: int = 3, seed: int = 0) -> pd.DataFrame:
    """`reason_tests.identity_probe` of every frozen feature set (each HuBERT variant pooled) on every tagged clip."""
    X = dict(feats.clip)
    X.update({probe_name(n): cr.pooled_states(s["orig"]) for n, (s, _) in feats.speech.items()})
    return rt.identity_probe(X, feats.rows["group"].to_numpy(), min_clips, seed)


def setting_report(res: SettingResult) -> dict:
    """What ``reports/cry_reasons_metrics.json`` keeps of a setting."""
    return {"reasons": res.reasons.reset_index().to_dict(orient="records"), "labels": res.cv.labels,
            "table": res.table().reset_index(names="model").to_dict(orient="records"),
            "folds": res.cv.folds.assign(chosen=res.cv.folds["chosen"].astype(str)).to_dict(orient="records"),
            "permutation": res.permutation, "chance": res.chance, "auc": res.auc, "seconds": res.seconds,
            "model_seconds": res.cv.seconds}
