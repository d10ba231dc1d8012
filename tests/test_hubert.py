"""Cry-reason nested CV on synthetic babies with a tiny HuBERT: every model is scored on the same outer
folds, each clip is predicted exactly once per model, and no baby is in two folds."""
import numpy as np
import pandas as pd

from conftest import noise, tone
from crysense import backbones, hubert
from crysense import speech_transformer as st


def synthetic(n_babies=6, clips_per_baby=2):
    rows, audio = [], []
    for r, reason in enumerate(["hungry", "tired", "lonely"]):
        for b in range(n_babies):
            for c in range(clips_per_baby):
                rows.append({"source": "donateacry", "reason": reason, "group": f"donateacry:{reason}{b}",
                             "sha256": f"{reason}{b}{c}"})
                audio.append(tone(300 * (r + 1), 2.0) + noise(2.0, amp=0.05, seed=len(audio)))
    rows.append({"source": "donateacry", "reason": "cold_hot", "group": "donateacry:x", "sha256": "x"})
    rows.append({"source": "donateacry", "reason": "dont_know", "group": "donateacry:y", "sha256": "y"})
    return pd.DataFrame(rows), audio


def test_reason_data_applies_the_baby_rule():
    df, _ = synthetic()
    data, table = hubert.reason_data(df, outer_folds=2)
    assert set(data["reason"]) == {"hungry", "tired", "lonely"}
    assert not table.loc["cold_hot", "evaluated"] and "dont_know" not in table.index


def test_nested_cv_on_synthetic_babies(tmp_path):
    backbones.random_backbone("hubert", "tiny").save_pretrained(tmp_path / "hubert")
    df, audio = synthetic()
    data, _ = hubert.reason_data(df, outer_folds=2)
    model = hubert.load_classifier(["a", "b"], source=str(tmp_path))
    cfg = hubert.NestedCVConfig(outer_folds=2, inner_folds=2, learning_rates=(1e-3, 3e-3), epoch_grid=(1, 2),
                                top_layers=1, batch_size=4, crop_s=1.0, c_grid=(1.0, 10.0))
    states = [st.lower_states(model, audio[i], cfg.top_layers) for i in range(len(data))]
    speech = {"HuBERT (saved backbone)": (states, lambda labels: hubert.load_classifier(labels, source=str(tmp_path))),
              "HuBERT (random init)": (states, lambda labels: hubert.load_classifier(labels, random_init=True, like=model))}
    peak_hz = lambda x: np.fft.rfftfreq(len(x), 1 / 16000)[np.argmax(np.abs(np.fft.rfft(x)))]
    feats = {"stats + LogReg": np.stack([[peak_hz(x), x.std()] for x in audio[: len(data)]])}
    folds, pooled, labels, seconds = hubert.nested_cv(data, speech, feats, cfg, progress=False)
    models = {"random (stratified)", "majority class", "stats + LogReg", *speech}
    assert set(folds["model"]) == models and (folds.groupby("model").size() == 2).all() and set(seconds) >= set(speech)
    assert (pooled.groupby("model").size() == len(data)).all()
    # every clip is predicted once per model, by the outer fold that held its baby out
    for model_name, d in pooled.groupby("model"):
        assert sorted(d["fold"].value_counts()) == sorted(folds.loc[folds.model == model_name, "n_test"])
    assert folds["macro_f1"].between(0, 1).all()
    # the reasons differ by pitch: a model of the spectral peak finds them, the majority class cannot
    by_model = folds.groupby("model")["macro_f1"].mean()
    assert by_model["stats + LogReg"] >= 0.8 > by_model["majority class"]
    for name in speech:
        chosen = folds.loc[folds.model == name, "chosen"]
        assert all(c["epochs"] in (1, 2) and c["lr"] in (1e-3, 3e-3) for c in chosen)
    table = hubert.summary_table(folds, labels)
    assert table.loc["majority class", "recall_hungry"].startswith(("1.000", "0.000"))
    assert set(labels) == {"hungry", "tired", "lonely"}
