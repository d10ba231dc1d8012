"""Leave one source out on a synthetic corpus: every source sharing a label is held out once, no training or
validation clip of a fold comes from the held-out source or its groups, every held-out clip is predicted once per
system and recipe, and a model that learned the label (not the corpus) is recognised as generalizing."""
import numpy as np
import pandas as pd

from crysense.config import LABELS
from crysense.evaluation import loso, loso_tables
from crysense.training import recipe, trainset


def corpus(seed=0):
    """Sources with (label, clips); embeddings carry the label plus a strong per-source offset."""
    rng = np.random.default_rng(seed)
    spec = {"cries_a": [("crying", 40)], "cries_b": [("crying", 30), ("normal", 20)], "talk": [("normal", 40)],
            "screams": [("screaming", 30), ("normal", 10)], "screams_b": [("screaming", 12)], "only_mine": [("normal", 6)]}
    rows, emb = [], {}
    for source, parts in spec.items():
        offset = rng.normal(0, 0.6, 16)
        for label, n in parts:
            for i in range(n):
                sha = f"{source}-{label}-{i}"
                split = ["train", "train", "train", "val", "test"][i % 5]
                rows.append({"sha256": sha, "source": source, "label": label, "split": split, "group": f"{source}:{i // 2}",
                             "subcategory": "speech" if label == "normal" else label})
                emb[sha] = np.eye(16)[LABELS.index(label)] * 4 + offset + rng.normal(0, 0.5, 16)
    df = pd.DataFrame(rows)
    df.loc[df["sha256"] == "cries_b-crying-0", "group"] = "cries_a:0"     # one recording in two collections
    return df, {"orig": emb, "bl4k": emb}


def test_every_fold_leaves_the_source_and_its_groups_out():
    df, inputs = corpus()
    sources = loso.held_out_sources(df)
    assert sources == sorted(set(df["source"]))     # every source shares a label with another
    seen = []

    def spy(rcp, held):
        data = trainset.run_data(df, rcp, inputs, list(LABELS), 0, held)
        seen.append((held, data))
        uniform = lambda n: np.full((n, 3), 1 / 3)
        return {"val": uniform(len(data.val_y)), "val_y": data.val_y, "predict": lambda rows: uniform(len(rows))}

    run = loso.run(df, {"spy": spy}, {"spy": [recipe.FINAL]}, sources, grouped=(recipe.FINAL.name,), progress=False)
    assert sorted(h for h, _ in seen if h) == sources and any(h is None for h, _ in seen)
    for held, data in seen:
        if held is None:
            continue
        banned = set(df.loc[df["source"] == held, "group"])
        for rows in (data.train_rows, data.val_rows):
            assert held not in set(rows["source"]) and not banned & set(rows["group"])
    if True:   # cries_a held out: the shared recording's copy in cries_b left training with it
        data = dict((h, d) for h, d in seen)["cries_a"]
        assert "cries_b-crying-0" not in set(data.train_rows["sha256"])
    pred = run.predictions
    for held in sources:
        d = pred[pred["held_out"] == held]
        assert sorted(d["sha256"]) == sorted(loso.test_rows(df, held)["sha256"])
    assert (pred["held_out"] == loso.GROUPED).sum() == (df["split"] == "test").sum()


def test_a_label_model_generalizes_and_the_tables_say_so():
    df, inputs = corpus(1)
    member = loso.embedding_member(inputs, df, list(LABELS), 0, None)
    plan = {"logreg": [recipe.LADDER[1], recipe.FINAL]}
    run = loso.run(df, {"logreg": member}, plan, grouped=(recipe.LADDER[1].name,),
                   combiners={"ens": (["logreg"], loso.fold_combiner("average (all members)", ["logreg"]))}, progress=False)
    rec = run.recalls
    held = rec[(rec["held_out"] != loso.GROUPED) & (rec["system"] == "logreg")]
    assert held["recall"].min() > 0.7, held
    assert set(run.predictions["system"]) == {"logreg", "ens"}
    table = loso_tables.before_after_table(run.predictions, {"logreg": "LogReg", "ens": "ensemble"},
                                           recipe.LADDER[1].name, recipe.FINAL.name)
    assert len(table) == len(loso_tables.recall_table(run.predictions.query(
        "held_out != @loso.GROUPED and system == 'logreg' and recipe == @recipe.FINAL.name")))
    assert all("→" in v for v in table["LogReg"])
    ladder = loso_tables.ladder_table(run.predictions, [r.name for r in recipe.LADDER], {"logreg": "LogReg"})
    assert list(ladder.index.get_level_values("recipe")) == [recipe.LADDER[1].name, recipe.FINAL.name]
    assert np.isfinite(ladder.loc[("LogReg", recipe.LADDER[1].name), "grouped test macro-F1"])
    goals = loso_tables.goals(run.predictions, "logreg", recipe.FINAL.name)
    assert set(goals["label"]) == set(LABELS) and goals["met"].dtype == bool
    f1 = run.macro_f1
    assert set(f1["held_out"]) >= {"cries_b", "screams"} and f1["macro_f1"].between(0, 1).all()
    misses = lambda target: loso_tables.misses_by_kind(run.predictions, df, "logreg", recipe.FINAL.name,
                                                       targets={lab: target for lab in LABELS})
    every_kind = misses(1.01)   # every kind falls short of a recall above 1
    assert len(every_kind) == len(df[["source", "label", "subcategory"]].drop_duplicates())
    assert (every_kind["groups"] <= every_kind["clips"]).all() and every_kind["recall"].between(0, 1).all()
    assert misses(0.0).empty
    fig = loso_tables.plot_loso(run.predictions, {"logreg": "LogReg"}, [r.name for r in recipe.LADDER])
    assert len(fig.axes) == 1


def test_a_fold_that_changes_no_training_data_reuses_the_model():
    df, inputs = corpus()
    df.loc[df["source"] == "talk", "source"] = "new_talk"
    trained = []

    def counting(rcp, held):
        data = trainset.run_data(df, rcp, inputs, list(LABELS), 0, held)
        trained.append(held)
        return {"val": np.full((len(data.val_y), 3), 1 / 3), "val_y": data.val_y,
                "predict": lambda rows: np.full((len(rows), 3), 1 / 3)}

    old_only = recipe.Recipe("old sources", sources=("cries_a", "cries_b", "screams", "screams_b", "only_mine"))
    run = loso.run(df, {"m": counting}, {"m": [old_only]}, grouped=(old_only.name,), progress=False)
    assert None in trained and "new_talk" not in trained      # holding out a source it never trains on: same model
    assert set(run.predictions["held_out"]) == set(loso.held_out_sources(df)) | {loso.GROUPED}


def test_a_cut_off_run_resumes_from_its_stored_folds_and_nothing_else(tmp_path):
    df, inputs = corpus(1)
    logreg = loso.embedding_member(inputs, df, list(LABELS), 0, None)
    trained = []

    def member(rcp, held):
        trained.append((rcp.name, held))
        return logreg(rcp, held)

    plan = {"logreg": [recipe.LADDER[1], recipe.FINAL]}
    combiners = {"ens": (["logreg"], loso.fold_combiner("average (all members)", ["logreg"]))}
    go = lambda settings: loso.run(df, {"logreg": member}, plan, grouped=(recipe.LADDER[1].name,), combiners=combiners,
                                   progress=False, store=loso.FoldStore(tmp_path, settings))
    first = go({"seed": 0})
    jobs = len(first.predictions.groupby(["system", "recipe", "held_out"])) // 2      # logreg and ens rows
    trained_first = len(trained)
    assert first.resumed == 0 and trained_first > 0
    folds = sorted(tmp_path.glob("*.npz"))
    assert len(folds) == jobs
    for f in folds[::2]:                  # a run cut off: half the folds never finished
        f.unlink()
    again = go({"seed": 0})
    assert again.resumed == jobs - len(folds[::2]) and 0 < len(trained) - trained_first < trained_first
    pd.testing.assert_frame_equal(first.predictions, again.predictions)
    assert again.seconds.keys() == first.seconds.keys()
    n = len(trained)
    other = go({"seed": 1})               # other settings: nothing is read back
    assert other.resumed == 0 and len(trained) - n == trained_first
