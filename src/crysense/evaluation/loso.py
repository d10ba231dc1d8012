"""Leave one source out (LOSO): how the models do on recordings from a corpus they never heard.

The grouped test split keeps babies, speakers and recordings apart, but every test clip still comes from a
corpus the models trained on (its microphones, rooms, codecs). Here each source that holds a label another
source also holds is held out in turn: the models train (train split) and stop early (val split) on the
other sources only, with the held-out source's groups and any augmented view that mixes in its audio removed,
and are tested on every clip of the held-out source. Recall per (held-out source, label), and macro-F1
over the labels a source holds where it holds several, are the study's generalization figures.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..config import LABELS, progress_bar
from ..data.audio import save_atomic
from ..ensemble.combiners import Ensemble
from ..provenance import code_digest
from ..training.linear import fit_embedding_member, proba_all_classes
from ..training.recipe import Recipe, select
from ..training.trainset import run_data
from .loso_tables import GROUPED, macro_f1_table, recall_table

# member(recipe, held_out or None) -> {"val": probabilities on the run's validation clips, "val_y": their labels,
#                                      "predict": rows -> probabilities (the trained model)}
Member = Callable[[Recipe, "str | None"], dict]


def held_out_sources(df: pd.DataFrame) -> list[str]:
    """Sources holding at least one label that another source holds too (every one, with these data)."""
    by_label = df.groupby("label")["source"].nunique()
    shared = set(by_label[by_label > 1].index)
    return sorted(s for s, d in df.groupby("source") if set(d["label"]) & shared)


def test_rows(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Every clip of ``source`` (all splits: no model of the fold heard any of it), in its labels shared by
    other sources."""
    others = set(df.loc[df["source"] != source, "label"])
    return df[(df["source"] == source) & df["label"].isin(others)]


def predictions_frame(rows: pd.DataFrame, proba: np.ndarray, **keys) -> pd.DataFrame:
    out = rows[["sha256", "source", "label", "split"]].reset_index(drop=True).assign(**keys)
    for i, lab in enumerate(LABELS):
        out[f"p_{lab}"] = proba[:, i]
    out["pred"] = [LABELS[i] for i in proba.argmax(1)]
    return out


class FoldStore:
    """Finished folds on disk, so that a run cut off after hours resumes where it stopped instead of starting
    again. A fold is found only under the same key: the source of the modules a fold runs (`provenance`), the
    run's ``settings`` (each member's configuration and the weights it starts from), the member, the recipe, the
    held-out source and the sha256 of every training, validation and test clip.
    Any change to one of them trains the fold again."""

    FIELDS = ("val", "val_y", "test", "label_trained", "seconds")

    def __init__(self, directory, settings: dict):
        self.dir = Path(directory)
        # the code a fold runs: this module and every crysense module it imports (members and their training)
        self.base = code_digest([__name__]) + json.dumps(settings, sort_keys=True, default=str)

    def key(self, member: str, rcp: Recipe, held: str | None, *sha_lists) -> str:
        h = hashlib.sha256((self.base + json.dumps([member, dataclasses.asdict(rcp), held], default=str)).encode())
        for shas in sha_lists:
            h.update("\n".join(shas).encode() + b"|")
        return h.hexdigest()[:32]

    def get(self, key: str) -> dict | None:
        f = self.dir / f"{key}.npz"
        if not f.exists():
            return None
        with np.load(f) as z:
            return {k: z[k] for k in self.FIELDS}

    def put(self, key: str, fold: dict) -> None:
        save_atomic(self.dir / f"{key}.npz", lambda tmp: np.savez(tmp, **{k: np.asarray(fold[k]) for k in self.FIELDS}))


def fold_store(cache_dir, yamnet_base, speech_model, **settings) -> FoldStore:
    """The study's FoldStore (``cache_dir/loso_folds``), keyed also by the weights the members start from: the
    AudioSet YAMNet's and the whole speech backbone's (a re-run pretraining is another backbone)."""
    from ..speech.states import backbone_tag  # lazy: PyTorch, only for the folds that train Wav2Vec2
    return FoldStore(Path(cache_dir) / "loso_folds", {**settings, "yamnet_weights": yamnet_base.weights_id,
                                                      "speech_weights": backbone_tag(speech_model, 0)})


@dataclasses.dataclass
class LosoRun:
    """Everything a LOSO run produced, kept together for the report."""
    predictions: pd.DataFrame          # one row per (system, recipe, held_out, clip)
    seconds: dict                      # (system, recipe) -> training + prediction time over all folds
    resumed: int = 0                   # folds read from the FoldStore (trained by an earlier, cut-off run)

    @property
    def recalls(self) -> pd.DataFrame:
        return recall_table(self.predictions)

    @property
    def macro_f1(self) -> pd.DataFrame:
        return macro_f1_table(self.predictions)


def run(df: pd.DataFrame, members: dict[str, Member], plan: dict[str, list[Recipe]], sources=None,
        combiners: dict | None = None, grouped: tuple = (), progress: bool = True,
        store: FoldStore | None = None) -> LosoRun:
    """Train every member of ``plan`` ({member: [recipes]}) once per held-out source and test it there.

    ``grouped``: names of recipes also trained on every source and tested on the grouped test split (the
    ablation's in-corpus figure). ``combiners``: {name: ([member names], fn(val probabilities, val labels, test
    probabilities) -> test probabilities)}, applied per recipe and fold where every named member ran.
    ``store``: finished folds are saved there and read back by a later run with the same key (resuming).
    ``seconds`` counts a resumed fold's time as measured when it was trained.
    """
    import time

    sources = list(sources or held_out_sources(df))
    jobs = [(m, r, s) for m, recipes in plan.items() for r in recipes
            for s in ([None] if r.name in grouped else []) + sources]
    out, seconds, fold_outputs, trained, resumed = [], {}, {}, {}, 0
    for member, recipe, held in progress_bar(jobs, desc="leave-one-source-out", show=progress):
        t0 = time.time()
        # a source the recipe never trains on (and that shares no group with one it does) leaves the training
        # data as it is: the model trained for the grouped test, or for an earlier such fold, serves it too
        train, val = select(df, recipe, "train", held), select(df, recipe, "val", held)
        key = (member, recipe.name, tuple(train["sha256"]), tuple(val["sha256"]),
               held if recipe.augment else "")   # which views a fold may use depends on the held-out source
        rows = _rows_to_test(df, held)
        stored_as = store.key(member, recipe, held, train["sha256"], val["sha256"], rows["sha256"]) if store else ""
        res = store.get(stored_as) if store else None
        resumed += res is not None
        if res is None:
            if key not in trained:
                trained[key] = members[member](recipe, held)
            # a label the fold never trained on (the only scream source held out) cannot be recognised: marked,
            # and left out of the recall tables rather than counted as a failure of generalization
            res = {**trained[key], "test": trained[key]["predict"](rows),
                   "label_trained": rows["label"].isin(set(train["label"])).to_numpy(), "seconds": time.time() - t0}
            if store:
                store.put(stored_as, res)
        seconds[f"{member} | {recipe.name}"] = seconds.get(f"{member} | {recipe.name}", 0.0) + float(res["seconds"])
        fold_outputs[(member, recipe.name, held)] = res
        out.append(predictions_frame(rows, res["test"], system=member, recipe=recipe.name, held_out=held or GROUPED,
                                     label_trained=res["label_trained"]))
    for name, (names, combine) in (combiners or {}).items():
        for (member, recipe_name, held), first in list(fold_outputs.items()):
            if member != names[0]:
                continue
            parts = [fold_outputs.get((m, recipe_name, held)) for m in names]
            if all(p is not None for p in parts):
                proba = combine([p["val"] for p in parts], first["val_y"], [p["test"] for p in parts])
                out.append(predictions_frame(_rows_to_test(df, held), proba, system=name, recipe=recipe_name,
                                             held_out=held or GROUPED, label_trained=first["label_trained"]))
    return LosoRun(pd.concat(out, ignore_index=True), seconds, resumed)


def fold_combiner(name: str, members: list[str]):
    """Combiner ``name`` (`ensemble.Ensemble`) over ``members`` as one fold needs it: calibration, weights and
    stacker fitted on the fold's validation clips, then applied to its test clips."""

    def combine(val: list[np.ndarray], val_y: np.ndarray, test: list[np.ndarray]) -> np.ndarray:
        ens = Ensemble.fit_combiners(dict(zip(members, val)), val_y)
        return ens.combine(name, dict(zip(members, test)))
    return combine


# --- the study's members, as LOSO needs them: (recipe, held-out source) -> probabilities --------------------


def _rows_to_test(df: pd.DataFrame, held_out: str | None) -> pd.DataFrame:
    return test_rows(df, held_out) if held_out else df[df["split"] == "test"]


def yamnet_member(base, inputs, embeddings, df, labels, views, view_table, cfg) -> Member:
    """Fine-tuned YAMNet (`yamnet.finetune`) per fold; ``embeddings``: the frozen pooled embeddings of the
    same clip versions (stage 1 of every fold reuses them)."""
    from ..yamnet.finetuning import finetune  # lazy: TensorFlow, only for the folds that train YAMNet

    def member(recipe: Recipe, held_out: str | None) -> dict:
        data = run_data(df, recipe, inputs, labels, views, held_out, view_table)
        pooled = run_data(df, recipe, embeddings, labels, views, held_out, view_table)
        clf, _ = finetune(base, labels, data.train, {"orig": data.val["orig"]}, data.val_y, data.val_w, cfg,
                          progress=False, pooled=(pooled.train, {"orig": pooled.val["orig"]}))
        return {"val": clf.predict_acts(data.val["orig"]), "val_y": data.val_y,
                "predict": lambda rows: clf.predict_acts([inputs["orig"][s] for s in rows["sha256"]])}
    return member


def embedding_member(embeddings, df, labels, views, view_table, seed: int = 0) -> Member:
    """Logistic regression on frozen per-clip features (``embeddings``: YAMNet embeddings or AudioSet evidence,
    {version: {sha256: vector}}; `ensemble.fit_embedding_member`) per fold."""

    def member(recipe: Recipe, held_out: str | None) -> dict:
        data = run_data(df, recipe, embeddings, labels, views, held_out, view_table)
        X, y, w = data.train.flat()
        model = fit_embedding_member(np.stack(X), y, w, seed=seed)
        return {"val": proba_all_classes(model, np.stack(data.val["orig"]), len(labels)), "val_y": data.val_y,
                "predict": lambda rows: proba_all_classes(model, np.stack([embeddings["orig"][s] for s in rows["sha256"]]),
                                                          len(labels))}
    return member


def speech_member(new_model: Callable, inputs, df, labels, views, view_table, cfg) -> Member:
    """A Wav2Vec2/HuBERT classifier per fold: ``new_model()`` gives a fresh one on the backbone whose frozen
    states ``inputs`` holds; its top layers and head are fine-tuned on the fold (`speech_transformer.finetune`)."""
    from ..speech.states import predict_states  # lazy: PyTorch, only for the folds that train Wav2Vec2
    from ..speech.transformer import finetune  # lazy: PyTorch, only for the folds that train Wav2Vec2

    def member(recipe: Recipe, held_out: str | None) -> dict:
        data = run_data(df, recipe, inputs, labels, views, held_out, view_table)
        model = new_model()
        finetune(model, data.train, {"orig": data.val["orig"]}, data.val_y, data.val_w, cfg, progress=False)
        return {"val": predict_states(model, data.val["orig"], cfg.top_layers), "val_y": data.val_y,
                "predict": lambda rows: predict_states(model, [inputs["orig"][s] for s in rows["sha256"]], cfg.top_layers)}
    return member


def zero_shot_member(base, inputs, labels) -> Member:
    """YAMNet's AudioSet classes mapped to ours (`yamnet.zero_shot`): trained on none of our sources, the
    reference every held-out figure can be read against."""
    from ..yamnet.model import zero_shot  # lazy: TensorFlow, only for the zero-shot rows

    def member(recipe: Recipe, held_out: str | None) -> dict:
        proba = lambda rows: zero_shot(base, {0: [inputs["orig"][s] for s in rows["sha256"]]}, labels)[0]
        return {"val": None, "val_y": None, "predict": proba}
    return member
