"""Cry-reason study on synthetic babies: the settings, the nested CV with a tiny HuBERT (every model on the same
outer folds, each clip predicted once, no baby in two folds), the permutation test, the chance levels, the leaky
protocols and the identity probe, each on data built so the check can fail."""
import numpy as np
import pandas as pd

from conftest import noise, tone
from crysense.reasons import nested_cv as cry_reasons
from crysense.reasons import permutation as reason_tests
from crysense.reporting import text as report_text
from crysense.speech import backbones
from crysense.speech import states as speech_states


def synthetic(n_babies=6, clips_per_baby=2):
    rows, audio = [], []
    for r, reason in enumerate(["hungry", "tired", "lonely"]):
        for b in range(n_babies):
            for c in range(clips_per_baby):
                rows.append({"source": "donateacry", "reason": reason, "group": f"donateacry:{reason}{b}",
                             "sha256": f"{reason}{b}{c}", "file_path": f"donateacry/x/{reason}{b}{c}-{reason[:2]}.3gp"})
                audio.append(tone(300 * (r + 1), 2.0) + noise(2.0, amp=0.05, seed=len(audio)))
    rows.append({"source": "donateacry", "reason": "cold_hot", "group": "donateacry:x", "sha256": "x", "file_path": "x.3gp"})
    rows.append({"source": "donateacry", "reason": "dont_know", "group": "donateacry:y", "sha256": "y", "file_path": "y.3gp"})
    return pd.DataFrame(rows), audio


def test_settings_apply_the_baby_rule_and_the_curated_labels(tmp_path):
    df, _ = synthetic()
    data, table = cry_reasons.reason_data(df, outer_folds=2)
    assert set(data["reason"]) == {"hungry", "tired", "lonely"}
    assert not table.loc["cold_hot", "evaluated"] and "dont_know" not in table.index
    # the curated release relabels by folder: 'tired' clips of two babies filed under discomfort
    subset = tmp_path / "cleaned_subset.txt"
    subset.write_text("".join(f"./discomfort/tired{b}{c}-ti.wav\n" for b in range(2) for c in range(2)) +
                      "".join(f"./hungry/hungry{b}{c}-hu.wav\n" for b in range(6) for c in range(2)))
    curated, table = cry_reasons.curated_data(df, subset, outer_folds=2)
    assert curated["reason"].value_counts().to_dict() == {"hungry": 12, "discomfort": 4}
    assert (curated.loc[curated.reason == "discomfort", "sha256"].str.startswith("tired")).all()
    binary, _ = cry_reasons.hungry_data(df, outer_folds=2)
    assert binary["reason"].value_counts().to_dict() == {"not_hungry": 25, "hungry": 12}


def test_nested_cv_on_synthetic_babies(tmp_path):
    backbones.random_backbone("hubert", "tiny").save_pretrained(tmp_path / "hubert")
    df, audio = synthetic()
    data, _ = cry_reasons.reason_data(df, outer_folds=2)
    labels, y = cry_reasons.label_order(data)
    model = cry_reasons.load_classifier(["a", "b"], source=str(tmp_path))
    cfg = cry_reasons.NestedCVConfig(outer_folds=2, inner_folds=2, learning_rates=(1e-3, 3e-3), epoch_grid=(1, 2),
                                     top_layers=1, batch_size=4, crop_s=1.0, alpha_grid=(1.0, 10.0))
    states = [speech_states.lower_states(model, audio[i], cfg.top_layers) for i in range(len(data))]
    new = lambda n: cry_reasons.load_classifier([f"c{i}" for i in range(n)], source=str(tmp_path))
    peak_hz = lambda x: np.fft.rfftfreq(len(x), 1 / 16000)[np.argmax(np.abs(np.fft.rfft(x)))]
    models = {**cry_reasons.baselines(), "stats + ridge": cry_reasons.linear_model(
        np.stack([[peak_hz(x), x.std()] for x in audio[: len(data)]])),
        "HuBERT (saved backbone)": cry_reasons.hubert_model(states, new)}
    res = cry_reasons.nested_cv(y, data["group"].to_numpy(), models, labels, cfg, progress=False)
    folds, pooled = res.folds, res.pooled
    assert set(folds["model"]) == set(models) and (folds.groupby("model").size() == 2).all()
    assert set(res.seconds) == set(models)
    # every clip is predicted once per model, by the outer fold that held its baby out
    for name, d in pooled.groupby("model"):
        assert sorted(d["index"]) == list(range(len(data)))
        assert sorted(d["fold"].value_counts()) == sorted(folds.loc[folds.model == name, "n_test"])
        held = {f: set(data["group"].iloc[d.loc[d.fold == f, "index"]]) for f in d["fold"].unique()}
        assert not held[1] & held[2]
    assert np.allclose(pooled.filter(like="p_").sum(axis=1), 1)
    # the reasons differ by pitch: a model of the spectral peak finds them, the majority class cannot
    scores = res.pooled_scores()
    assert scores.loc["stats + ridge", "balanced_accuracy"] >= 0.8
    assert scores.loc["majority class", "balanced_accuracy"] == 1 / 3
    chosen = folds.loc[folds.model == "HuBERT (saved backbone)", "chosen"]
    assert all(c["epochs"] in (1, 2) and c["lr"] in (1e-3, 3e-3) for c in chosen)
    table = cry_reasons.summary_table(folds, labels)
    assert table.loc["majority class", "recall_hungry"].startswith(("1.000", "0.000"))


def babies(n_babies=24, clips=3, signal=0.0, seed=0):
    """Features = the reason (scaled by ``signal``) + a per-baby signature + noise; one reason per baby."""
    rng = np.random.default_rng(seed)
    reason = np.repeat(np.arange(n_babies) % 3, clips)
    groups = np.repeat(np.arange(n_babies), clips)
    signature = rng.normal(size=(n_babies, 32))[groups] * 3
    X = signature + rng.normal(size=(len(groups), 32)) * 0.3
    X[:, 0] += signal * reason
    return X, reason, groups


def test_baby_permutation_moves_whole_babies():
    y = np.array([0, 0, 1, 2, 2, 1, 0])
    groups = np.array(["a", "a", "b", "c", "c", "d", "e"])   # sizes: a 2, c 2; b, d, e 1
    seen = set()
    for s in range(30):
        p = reason_tests.baby_permutation(y, groups, np.random.default_rng(s))
        assert sorted(p) == sorted(y)
        assert tuple(p[[0, 1]]) in {(0, 0), (2, 2)} and tuple(p[[3, 4]]) in {(0, 0), (2, 2)}
        seen.add(tuple(p))
    assert len(seen) > 3


def test_permutation_test_tells_signal_from_none():
    cfg = cry_reasons.NestedCVConfig(outer_folds=3, inner_folds=2, alpha_grid=(1.0,))
    labels = ["r0", "r1", "r2"]
    p = {}
    for signal in (0.0, 20.0):
        X, y, groups = babies(signal=signal)
        models = {"linear": cry_reasons.linear_model(X)}
        observed = cry_reasons.nested_cv(y, groups, models, labels, cfg, progress=False).pooled_scores()
        out = reason_tests.permutation_test(y, groups, models, labels, cfg, observed, {"linear": 19}, progress=False)
        assert out["linear"]["permutations"] == 19 and len(out["linear"]["null"]["macro_f1"]) == 19
        p[signal] = out["linear"]["p_balanced_accuracy"]
    assert p[20.0] == 0.05 and p[0.0] > 0.1


def test_permutation_workers_receive_only_the_permuted_models():
    """The cheap models' permutations run in worker processes; a model left out of them (a fine-tuned HuBERT whose
    maker holds a weight-normed network, which cannot be pickled) must not be shipped."""
    class Unpicklable:
        def __reduce__(self):
            raise TypeError("not picklable")

    cfg = cry_reasons.NestedCVConfig(outer_folds=3, inner_folds=2, alpha_grid=(1.0,))
    X, y, groups = babies(signal=20.0)
    models = {"linear": cry_reasons.linear_model(X), "held back": Unpicklable()}
    observed = cry_reasons.nested_cv(y, groups, {"linear": models["linear"]}, ["r0", "r1", "r2"], cfg,
                                     progress=False).pooled_scores()
    out = reason_tests.permutation_test(y, groups, models, ["r0", "r1", "r2"], cfg, observed, {"linear": 2}, n_jobs=2,
                                        progress=False)
    assert set(out) == {"linear"} and out["linear"]["permutations"] == 2


def test_chance_levels_match_simulated_uninformative_rules():
    from sklearn.metrics import f1_score
    rng = np.random.default_rng(0)
    y = rng.choice(4, 20000, p=[0.7, 0.2, 0.07, 0.03])
    levels = reason_tests.chance_levels(y, 4)
    f1 = lambda pred: f1_score(y, pred, labels=range(4), average="macro", zero_division=0)
    assert abs(levels["uniform draw"] - f1(rng.integers(0, 4, len(y)))) < 0.01
    assert abs(levels["draw from class frequencies"] - f1(rng.choice(4, len(y), p=np.bincount(y) / len(y)))) < 0.01
    assert abs(levels["majority class"] - f1(np.zeros(len(y), int))) < 1e-9
    assert levels["uniform draw"] < levels["majority class"] < levels["draw from class frequencies"]


def test_leaky_protocols_score_baby_identity_as_reason():
    # no reason signal at all, but every baby has a signature: grouped CV is at chance, a clip split is not
    X, y, groups = babies(signal=0.0)
    cfg = cry_reasons.NestedCVConfig(outer_folds=3, inner_folds=2, alpha_grid=(1.0,))
    table = reason_tests.leaky_protocols(y, groups, {"linear": cry_reasons.linear_model(X)}, ["r0", "r1", "r2"], cfg,
                                         progress=False).set_index("protocol")["balanced_accuracy"]
    assert table["grouped by baby (the study)"] < 0.6 and table["random clip split"] > 0.9
    ident = reason_tests.identity_probe({"signature": X, "noise": np.random.default_rng(1).normal(size=X.shape)}, groups)
    assert ident.loc["signature", "identity_accuracy"] > 0.9 > 0.3 > ident.loc["noise", "identity_accuracy"]


def test_auc_with_baby_bootstrap_interval():
    pooled = pd.DataFrame({"true": ["hungry", "not_hungry"] * 20, "p_hungry": np.tile([0.9, 0.1], 20)})
    out = reason_tests.auc_with_ci(pooled, "hungry", np.repeat(np.arange(20), 2), n_boot=200)
    assert out["roc_auc"] == 1.0 and out["roc_auc_low"] == 1.0
    noisy = pooled.assign(p_hungry=np.random.default_rng(0).random(40))
    out = reason_tests.auc_with_ci(noisy, "hungry", np.repeat(np.arange(20), 2), n_boot=200)
    assert out["roc_auc_low"] < 0.5 < out["roc_auc_high"]


def test_report_names_the_models_left_without_a_permutation_test():
    from crysense.reasons import study as reason_study
    X, y, groups = babies(signal=20.0)
    cfg = cry_reasons.NestedCVConfig(outer_folds=3, inner_folds=2, alpha_grid=(1.0,))
    labels = ["hungry", "tired", "lonely"]
    models = {"tested": cry_reasons.linear_model(X), "costly": cry_reasons.linear_model(X[:, :4])}
    cv = cry_reasons.nested_cv(y, groups, models, labels, cfg, progress=False)
    perm = reason_tests.permutation_test(y, groups, models, labels, cfg, cv.pooled_scores(), {"tested": 9}, progress=False)
    data = pd.DataFrame({"reason": np.array(labels)[y], "group": groups})
    res = reason_study.SettingResult("reasons", data, pd.DataFrame(), cv, perm, reason_tests.chance_levels(y, 3), {}, {})
    assert res.table().loc["tested", "permutations"] == 9 and np.isnan(res.table().loc["costly", "p_macro_f1"])
    text = report_text.reasons_markdown({"reasons": res}, None, None, cfg)
    note = text.split("Not permutation-tested")[1]
    assert "costly (" in note and ": tested (" not in note and ", tested (" not in note
