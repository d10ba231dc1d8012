"""Wav2Vec2 classifier: a tiny config fine-tunes on cached frozen states, saves, reloads and predicts
identically; the cached-state path computes what the whole model computes."""
import numpy as np
import pytest

from conftest import noise, tone
from crysense import speech_transformer as st
from crysense import wav2vec2
from crysense.trainset import TrainSet

TOP = 1


@pytest.fixture(scope="module")
def tiny():
    model = wav2vec2.load_classifier(random_init=True, size="tiny", seed=0)
    clips = [tone(300 + 30 * i, 5.5) for i in range(3)] + [noise(6.0, seed=i) for i in range(3)] + \
            [tone(2500, 3.0) + noise(3.0, amp=0.01, seed=9 + i) for i in range(3)]
    return model, clips, np.repeat([0, 1, 2], 3)


def test_cached_states_reproduce_the_full_forward(tiny):
    model, clips, _ = tiny
    states = [st.lower_states(model, x, TOP) for x in clips]
    assert states[0].shape == (int(5.5 * 50) - 1, 32) and states[-1].shape[0] == 249   # 3 s padded to 5 s
    cached = wav2vec2.predict_states(model, states, TOP)
    full = np.stack([wav2vec2.predict_waveform(model, x) for x in clips])
    assert np.allclose(cached, full, atol=1e-5)


def test_tiny_finetune_saves_reloads_and_predicts_identically(tiny, tmp_path):
    model, clips, y = tiny
    states = [st.lower_states(model, x, TOP) for x in clips]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = wav2vec2.FinetuneConfig(top_layers=TOP, epochs=2, patience=2, batch_size=4)
    train = TrainSet([[s, s.astype(np.float16)] for s in states], y, np.linspace(0.5, 1.5, len(y)))
    hist = wav2vec2.finetune(model, train, {"orig": states, "bl4k": states}, y, cfg=cfg, progress=False)
    assert {"val_loss", "val_loss_bl4k", "train_loss"} <= set(hist.columns)
    assert np.isfinite(hist["train_loss"]).all() and len(hist) >= 1
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
    a, b = st.base_of(model).state_dict(), st.base_of(control).state_dict()
    assert a.keys() == b.keys() and any(not np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
