"""Wav2Vec2 classifier: a tiny config fine-tunes on cached frozen states, saves, reloads and predicts
identically; the cached-state path computes what the whole model computes."""
import numpy as np
import pytest

from conftest import noise, tone
from crysense.speech import states as speech_states
from crysense.speech import wav2vec2
from crysense.training.trainset import TrainSet

TOP = 1


@pytest.fixture(scope="module")
def tiny():
    model = wav2vec2.load_classifier(random_init=True, size="tiny", seed=0)
    clips = [tone(300 + 30 * i, 5.5) for i in range(3)] + [noise(6.0, seed=i) for i in range(3)] + \
            [tone(2500, 3.0) + noise(3.0, amp=0.01, seed=9 + i) for i in range(3)]
    return model, clips, np.repeat([0, 1, 2], 3)


def test_cached_states_reproduce_the_full_forward(tiny):
    model, clips, _ = tiny
    states = [speech_states.lower_states(model, x, TOP) for x in clips]
    assert states[0].shape == (int(5.5 * 50) - 1, 32) and states[-1].shape[0] == 249   # 3 s padded to 5 s
    cached = wav2vec2.predict_states(model, states, TOP)
    full = np.stack([wav2vec2.predict_waveform(model, x) for x in clips])
    assert np.allclose(cached, full, atol=1e-5)


def test_tiny_finetune_saves_reloads_and_predicts_identically(tiny, tmp_path):
    model, clips, y = tiny
    states = [speech_states.lower_states(model, x, TOP) for x in clips]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = wav2vec2.FinetuneConfig(top_layers=TOP, epochs=2, patience=2, batch_size=4)
    train = TrainSet([[s, s.astype(np.float16)] for s in states], y, np.linspace(0.5, 1.5, len(y)))
    hist = wav2vec2.finetune(model, train, {"orig": states, "bl4k": states}, y, cfg=cfg, progress=False)
    assert {"val_loss", "val_loss_bl4k", "train_loss"} <= set(hist.columns)
    assert hist["epoch"].iloc[0] == 0 and np.isnan(hist["train_loss"].iloc[0])   # epoch 0: the probe head, untrained
    assert np.isfinite(hist["train_loss"].iloc[1:]).all() and len(hist) >= 2
    changed = {k for k, v in model.state_dict().items() if not np.array_equal(v.numpy(), before[k].numpy())}
    assert changed and all(k.startswith(("classifier", "projector", "wav2vec2.encoder.layers.1.")) for k in changed)
    out = wav2vec2.save_classifier(model, tmp_path / "w2v", {"labels": ["crying", "screaming", "normal"]})
    reloaded = wav2vec2.load_finetuned(out)
    assert reloaded.config.id2label[0] == "crying"
    for x in clips[::4]:
        assert np.array_equal(wav2vec2.predict_waveform(reloaded, x), wav2vec2.predict_waveform(model, x))
    assert (out / "preprocessor_config.json").exists()


def test_random_init_control_copies_the_architecture_not_the_weights(tiny):
    model, _, _ = tiny
    control = wav2vec2.load_classifier(random_init=True, like=model, seed=1)
    assert control.config.hidden_size == model.config.hidden_size
    assert control.config.num_hidden_layers == model.config.num_hidden_layers
    assert control.config.crysense_backbone.startswith("random init")
    a, b = speech_states.base_of(model).state_dict(), speech_states.base_of(control).state_dict()
    assert a.keys() == b.keys() and any(not np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_probe_head_makes_the_model_compute_the_fitted_probe(tiny):
    """LP-FT's start: with the head written from the probe, the model's probabilities on whole clips are those of
    the same standardised, weighted logistic regression fitted by scikit-learn; the saved model keeps the head."""
    from sklearn.linear_model import LogisticRegression

    from crysense.speech.linear_head import init_head_from_probe, pooled_top_output
    model, clips, y = tiny
    model = wav2vec2.load_classifier(random_init=True, like=model, seed=3)
    states = [speech_states.lower_states(model, x, TOP) for x in clips]
    w = np.linspace(0.5, 1.5, len(y))
    init_head_from_probe(model, TrainSet([[s] for s in states], y, w), TOP)
    X = pooled_top_output(model, states, TOP)
    Z = (X - X.mean(0)) / (X.std(0) + 1e-6)
    expected = LogisticRegression(max_iter=5000).fit(Z, y, sample_weight=w / w.mean()).predict_proba(Z)
    assert np.allclose(wav2vec2.predict_states(model, states, TOP), expected, atol=1e-4)
    assert not np.allclose(expected, expected.mean(0))          # the probe separates something: not a constant


def test_probe_regularisation_is_chosen_on_validation_and_the_head_survives_saving(tiny, tmp_path):
    from crysense.speech.linear_head import init_head_from_probe
    model, clips, y = tiny
    model = wav2vec2.load_classifier(random_init=True, like=model, seed=4)
    states = [speech_states.lower_states(model, x, TOP) for x in clips]
    chosen = init_head_from_probe(model, TrainSet([[s] for s in states[::2]], y[::2], np.ones(5)), TOP,
                                  states[1::2], y[1::2], np.ones(4))
    val = chosen["probe_val"]
    assert len(val) == 4 and chosen["probe_c"] in val
    f1 = {c: round(v["val_macro_f1"], 4) for c, v in val.items()}
    assert f1[chosen["probe_c"]] == max(f1.values())
    assert val[chosen["probe_c"]]["val_loss"] == min(v["val_loss"] for c, v in val.items() if f1[c] == max(f1.values()))
    reloaded = wav2vec2.load_finetuned(wav2vec2.save_classifier(model, tmp_path / "lp"))
    assert np.array_equal(wav2vec2.predict_waveform(reloaded, clips[1]), wav2vec2.predict_waveform(model, clips[1]))


def test_early_stopping_keeps_the_probe_when_fine_tuning_only_hurts():
    """``evaluate_first``: the starting weights are epoch 0's candidate; epochs that raise the validation loss
    are discarded and the start restored."""
    from crysense.training.loop import fit
    state = {"w": 0}
    losses = iter([1.0, 2.0, 3.0, 4.0])

    def run_epoch(epoch):
        state["w"] += 1
        return {"train_loss": 0.0}
    hist, best = fit(run_epoch, lambda: {"val_loss": next(losses)}, lambda: dict(state), state.update,
                     epochs=5, patience=2, progress=False, evaluate_first=True)
    assert [h["epoch"] for h in hist] == [0, 1, 2] and best == 1.0 and state["w"] == 0
