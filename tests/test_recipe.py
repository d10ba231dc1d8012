"""Training recipes: class totals stay equal, sources share a class's weight as the recipe says, hard negatives
count more within `normal`, and a held-out source takes its groups (and the views mixing its audio) along."""
import numpy as np
import pandas as pd
import pytest

from crysense.training import recipe, trainset


def frame():
    rows = []
    for source, label, n, sub in [("big", "crying", 400, "infant_cry"), ("small", "crying", 25, "infant_cry"),
                                  ("speech", "normal", 100, "speech"), ("music", "normal", 100, "music"),
                                  ("scr", "screaming", 20, "scream")]:
        rows += [{"source": source, "label": label, "subcategory": sub, "split": "train",
                  "group": f"{source}:{i // 2}", "sha256": f"{source}{i}"} for i in range(n)]
    return pd.DataFrame(rows)


def test_classes_keep_equal_totals_and_sources_share_by_the_exponent():
    df = frame()
    for r in recipe.LADDER:
        w = recipe.sample_weights(df, r)
        assert np.isclose(w.mean(), 1.0)
        totals = pd.Series(w).groupby(df["label"].to_numpy()).sum()
        assert np.allclose(totals / totals.sum(), 1 / 3)
    w = pd.Series(recipe.sample_weights(df, recipe.Recipe("sqrt", source_balance=0.5)))
    share = w.groupby(df["source"].to_numpy()).sum()
    assert np.isclose(share["big"] / share["small"], np.sqrt(400 / 25))       # 4, not 16
    flat = pd.Series(recipe.sample_weights(df, recipe.BEFORE)).groupby(df["source"].to_numpy()).sum()
    assert np.isclose(flat["big"] / flat["small"], 400 / 25)                   # no balance: as many clips, as many shares


def test_hard_negatives_count_more_within_normal_only():
    df = frame()
    w = recipe.sample_weights(df, recipe.Recipe("hard", source_balance=0.0, hard_negative_weight=2.0))
    speech, music = w[df["source"] == "speech"], w[df["source"] == "music"]
    assert np.isclose(speech.mean(), 2 * music.mean())
    assert np.isclose(speech.sum() + music.sum(), w[df["label"] == "crying"].sum())   # normal's total unchanged


def test_held_out_source_takes_its_groups_and_views_along():
    df = frame()
    df.loc[df["sha256"] == "small0", "group"] = "shared"      # a recording both collections hold
    df.loc[df["sha256"] == "big0", "group"] = "shared"
    kept = recipe.select(df, recipe.FINAL, "train", held_out="small")
    assert "small" not in set(kept["source"]) and "shared" not in set(kept["group"]) and len(kept) == len(df) - 26
    assert set(recipe.select(df, recipe.BEFORE, "train")["source"]) <= set(recipe.BEFORE.sources)
    views = pd.DataFrame({"sha256": ["big1", "big1", "big2"], "version": ["view0", "view1", "view0"],
                          "background_source": ["small", "music", "speech"],
                          "background_group": ["small:3", "music:1", "shared"]})
    assert trainset.usable_views(views, df, "small") == {("big1", "view1")}
    assert trainset.usable_views(views, df, None) is None


def test_train_set_versions_and_flat_weights():
    df = frame().head(6).assign(label=["crying"] * 3 + ["normal"] * 3)
    inputs = {v: {s: np.full(2, i, float) for s in df["sha256"]} for i, v in enumerate(["orig", "view0", "view1", "view2"])}
    ts = trainset.build(df, recipe.FINAL, inputs, ["crying", "screaming", "normal"], views=3,
                        allowed={("big0", "view1")})
    assert [len(v) for v in ts.versions] == [2, 1, 1, 1, 1, 1]
    X, y, w = ts.flat()
    assert len(X) == 7 and np.isclose(w.mean(), 1) and np.isclose(w[0], w[1]) and w[0] < w[2]
    rng = np.random.default_rng(0)
    assert {int(ts.pick(rng)[0][0]) for _ in range(50)} == {0, 2}
    with pytest.raises(KeyError):
        recipe.recipe_by_name("no such recipe")
