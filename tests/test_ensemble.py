"""Combiners and the statistics of the evaluation, on synthetic probabilities with known answers."""
import numpy as np

from crysense import ensemble, evaluation


def noisy_probas(y, strength, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(y), 3)) + strength * np.eye(3)[y]
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True)


def test_temperature_recovers_a_known_distortion():
    rng = np.random.default_rng(0)
    calibrated = noisy_probas(rng.integers(0, 3, 3000), 1.5, 1)
    y = np.array([rng.choice(3, p=p) for p in calibrated])       # labels drawn from p: p is calibrated
    overconfident = ensemble.apply_temperature(calibrated, 1 / 3)   # sharpened 3x
    t = ensemble.fit_temperature(overconfident, y)
    assert 2.5 < t < 3.5
    assert ensemble.nll(ensemble.apply_temperature(overconfident, t), y) < ensemble.nll(overconfident, y)


def test_majority_vote_and_its_tie_rule():
    a = np.array([[0.6, 0.3, 0.1], [0.5, 0.4, 0.1]])
    b = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3]])
    c = np.array([[0.1, 0.1, 0.8], [0.1, 0.1, 0.8]])
    v = ensemble.majority_vote([a, b, c])
    assert np.allclose(v.sum(1), 1)
    assert v[0].argmax() == 0                       # two of three vote 0
    mean = ensemble.average([a, b, c])[1]           # all disagree: highest mean probability wins
    assert v[1].argmax() == mean.argmax() == 2


def test_weights_prefer_the_better_member_and_stacker_cross_fits():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    good, bad = noisy_probas(y, 3.0, 1), noisy_probas(y, 0.2, 2)
    w = ensemble.fit_weights([good, bad], y)
    assert np.isclose(w.sum(), 1) and w[0] > 0.8
    groups = np.arange(600) // 3
    ens, oof = ensemble.Ensemble.fit({"yamnet": good, "wav2vec2": bad, "yamnet_logreg": good}, y, groups)
    p = oof["stacking (LogReg meta-classifier)"]
    assert p.shape == (600, 3) and np.allclose(p.sum(1), 1)
    probas = {"yamnet": good, "wav2vec2": bad, "yamnet_logreg": good}
    for name in ens.combiners():
        out = ens.combine(name, probas)
        assert out.shape == (600, 3) and np.allclose(out.sum(1), 1, atol=1e-6)
    # each combiner's predictions are saved under its own file name (two 'average ...' once shared one)
    stems = [ens.predictions_name(name) for name in ens.combiners()]
    assert len(set(stems)) == len(stems) and ens.predictions_name(ens.SEED_CHOICE) == "ensemble_average_yamnet_wav2vec2"
    assert not np.allclose(ens.combine(ens.SEED_CHOICE, probas), ens.combine("average (all members)", probas))


def test_the_combiner_is_chosen_on_cross_fitted_validation_predictions():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 450)
    groups = np.arange(450) // 3
    # the seed's average leans on a useless Wav2Vec2; every other combiner can use the good third member
    probas = {"yamnet": noisy_probas(y, 1.0, 1), "wav2vec2": noisy_probas(y, 0.0, 2), "yamnet_logreg": noisy_probas(y, 3.0, 3)}
    ens, oof = ensemble.Ensemble.fit(probas, y, groups)
    assert set(oof) == set(ens.combiners()) and all(p.shape == (450, 3) for p in oof.values())
    assert ens.chosen == ensemble.Ensemble.choose(oof, y) and ens.chosen != ens.SEED_CHOICE
    # ties in macro-F1 go to the lower negative log-likelihood
    sharp, soft = np.eye(3)[y] * 0.9 + 0.05, np.eye(3)[y] * 0.5 + 0.5 / 3
    assert ensemble.Ensemble.choose({"soft": soft, "sharp": sharp}, y) == "sharp"


def test_the_chosen_combiner_is_saved_with_the_ensemble(tmp_path):
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 150)
    probas = {m: noisy_probas(y, s, i) for i, (m, s) in enumerate([("yamnet", 2.0), ("wav2vec2", 1.0), ("yamnet_logreg", 2.5)])}
    ens, _ = ensemble.Ensemble.fit(probas, y, np.arange(150) // 3)
    ens.save(tmp_path / "e.joblib")
    again = ensemble.Ensemble.load(tmp_path / "e.joblib")
    assert again.chosen == ens.chosen and np.allclose(again.combine(again.chosen, probas), ens.combine(ens.chosen, probas))


def test_cluster_bootstrap_and_mcnemar():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    p = noisy_probas(y, 2.0, 3)
    point, lo, hi = evaluation.bootstrap_ci(y, p, np.arange(300) // 5, n_boot=200)
    assert lo <= point <= hi and hi - lo < 0.3
    same = evaluation.mcnemar(y, p.argmax(1), p.argmax(1))
    assert same["p_value"] == 1.0 and same["only_first_right"] == 0
    better = evaluation.mcnemar(y, y, (y + 1) % 3)
    assert better["only_first_right"] == 300 and better["p_value"] < 1e-6
    ece, table = evaluation.expected_calibration_error(y, np.eye(3)[y])
    assert ece < 1e-9 and table["accuracy"].iloc[-1] == 1


def test_saved_predictions_are_read_back_by_name_split_and_version_and_checked_against_the_manifest(tmp_path):
    import pandas as pd
    import pytest
    df = pd.DataFrame({"file_path": [f"c{i}.wav" for i in range(6)], "segment_start_s": 0.0, "segment_end_s": 5.0,
                       "sha256": [f"h{i}" for i in range(6)], "source": "s", "label": ["crying", "normal"] * 3,
                       "split": ["val", "test"] * 3})
    val, test, test_bl4k = (noisy_probas(np.array([0, 2, 0]), 2.0, seed) for seed in range(3))
    written = evaluation.save_predictions(tmp_path, "yamnet", df, {("val", "orig"): val, ("test", "orig"): test,
                                                                   ("test", "bl4k"): test_bl4k})
    assert [p.name for p in written] == ["yamnet_val.csv", "yamnet_test.csv", "yamnet_test_bl4k.csv"]
    assert np.allclose(evaluation.load_predictions(tmp_path, "yamnet", df, "test", "bl4k"), test_bl4k)
    assert np.allclose(evaluation.load_predictions(tmp_path, "yamnet", df, "val"), val)
    moved = df.assign(split=["test", "val"] * 3)   # another manifest: the saved rows are no longer its test clips
    with pytest.raises(ValueError, match="yamnet_test.csv does not match the manifest's test clips"):
        evaluation.load_predictions(tmp_path, "yamnet", moved, "test")


def test_chance_baselines_follow_the_training_frequencies_and_the_test_table_scores_every_system():
    import pandas as pd
    train = pd.Series(["crying"] * 60 + ["screaming"] * 10 + ["normal"] * 30)
    base = evaluation.chance_baselines(train, 2000, seed=1)
    assert np.allclose(base["baseline: majority class"][0], [0.6, 0.1, 0.3])
    drawn = base["baseline: random (train class frequencies)"]
    assert set(drawn.sum(1)) == {1.0} and abs(drawn[:, 0].mean() - 0.6) < 0.05   # one-hot draws at the frequencies
    y = np.random.default_rng(0).integers(0, 3, 90)
    systems = {"good": noisy_probas(y, 4.0, 0), **evaluation.chance_baselines(train, 90, seed=1)}
    table = evaluation.test_table(systems, y, np.arange(90) // 3, n_boot=50, band_limited={"good": systems["good"]})
    assert list(table.index) == list(systems)
    assert table.loc["good", "macro_f1"] > 0.8 > table.loc["baseline: majority class", "macro_f1"]
    assert table.loc["good", "macro_f1_ci_low"] <= table.loc["good", "macro_f1"] <= table.loc["good", "macro_f1_ci_high"]
    assert table.loc["good", "macro_f1_band_limited_4khz"] == table.loc["good", "macro_f1"]
    assert pd.isna(table.loc["baseline: majority class", "macro_f1_band_limited_4khz"])


def test_reload_gap_passes_a_faithful_reload_and_stops_a_drifted_one():
    import pytest
    clips = [np.full(4, float(i)) for i in range(3)]
    expected = [np.array([0.2, 0.3, 0.5]) + i for i in range(3)]
    assert evaluation.reload_gap(lambda x: np.array([0.2, 0.3, 0.5]) + x[0] + 1e-6, expected, clips) == pytest.approx(1e-6)
    with pytest.raises(AssertionError, match="differ by up to 1.00e-03"):
        evaluation.reload_gap(lambda x: np.array([0.2, 0.3, 0.5]) + x[0] + 1e-3, expected, clips)
