"""YAMNet: real weights on known inputs (loose, honest criteria), zero-shot mapping, a tiny fine-tune that
saves, reloads with plain Keras and predicts identically."""
import numpy as np
import pytest

from conftest import noise, tone
from crysense import yamnet
from crysense.training.trainset import TrainSet

needs_weights = pytest.mark.skipif(not (yamnet.LOCAL_WEIGHTS_DIR / "yamnet.h5").exists(),
                                   reason="YAMNet weights not found (../shared/weights/yamnet)")


@pytest.fixture(scope="module")
def base():
    return yamnet.Yamnet(top_blocks=1)


def test_patches_cover_the_clip():
    for seconds, n in [(0.2, 1), (0.975, 1), (5.0, 10), (10.0, 20)]:
        x = np.zeros(int(seconds * 16000), np.float32)
        _, patches = yamnet.log_mel_patches(yamnet.pad_waveform(x))
        assert patches.shape == (n, 96, 64)


@needs_weights
def test_pretrained_model_on_known_inputs(base):
    table = base_table = yamnet.sanity_check(base, k=10).set_index("input")
    assert base_table.loc["silence (zeros)", "rank of expected"] == 1
    assert table["in top 10"].all(), table
    assert base_table.loc["white noise", "rank of expected"] <= 3
    emb, scores = base.frames(noise(2.0))
    assert emb.shape[1] == 1024 and scores.shape[1] == 521 and np.all((scores >= 0) & (scores <= 1))


def test_zero_shot_mapping():
    names = ["Speech", "Baby cry, infant cry", "Crying, sobbing", "Whimper", "Screaming", "Yell", "Music"]
    scores = np.array([[0.1, 0.9, 0.2, 0, 0.05, 0, 0.1],     # a crying baby
                       [0.2, 0.0, 0.0, 0, 0.70, 0.3, 0.1],   # a scream
                       [0.9, 0.0, 0.0, 0, 0.00, 0, 0.8]])    # speech over music
    p = yamnet.zero_shot_proba(scores, names)
    assert np.allclose(p.sum(1), 1) and list(p.argmax(1)) == [0, 1, 2]


@needs_weights
def test_tiny_finetune_saves_reloads_and_predicts_identically(base, tmp_path):
    rng = np.random.default_rng(0)
    clips = [tone(300 + 50 * i, 1.5) for i in range(4)] + [noise(1.5, seed=i) for i in range(4)] + \
            [tone(2000 + 100 * i, 1.5) * rng.random() for i in range(4)]
    y = np.repeat([0, 1, 2], 4)
    acts = [base.trunk_activations(x).astype(np.float16) for x in clips]
    quiet = [base.trunk_activations(0.3 * x).astype(np.float16) for x in clips]   # a second version of each clip
    cfg = yamnet.FinetuneConfig(top_blocks=1, head_epochs=3, finetune_epochs=1, head_patience=3,
                                finetune_patience=1, batch_size=4)
    pretrained = [w.copy() for w in base.top.get_weights()]
    train = TrainSet([[a, q] for a, q in zip(acts, quiet)], y, np.ones(len(y)))
    clf, hist = yamnet.finetune(base, ["crying", "screaming", "normal"], train, {"orig": acts, "bl4k": quiet}, y,
                                cfg=cfg, progress=False)
    assert np.isfinite(hist["train_loss"]).all() and len(hist) >= 2 and "val_loss_bl4k" in hist
    assert hist.attrs["kept"] in ("head", "fine-tune")
    # fine-tuning changes the classifier's own copy of the top blocks, never the shared pretrained network
    assert all(np.array_equal(a, b) for a, b in zip(pretrained, base.top.get_weights()))
    emb, scores = base.clip_outputs(acts[:3])
    for a, e, s in zip(acts[:3], emb, scores):
        e1, s1 = base.embed_scores(a.astype(np.float32))
        assert np.allclose(e, e1.mean(0), atol=1e-4) and np.allclose(s, s1.mean(0), atol=1e-4)
    path = clf.save(tmp_path / "yamnet_finetuned.h5")
    reloaded = yamnet.SavedYamnetClassifier(path)
    for x in clips[::5]:
        assert np.allclose(reloaded.predict_proba(x), clf.predict_proba(x), atol=1e-5)
    assert reloaded.labels == ["crying", "screaming", "normal"]


@needs_weights
def test_seed_spread_repeats_a_seed_exactly_and_reports_every_seed(base):
    """Training is defined by data, epochs and seed: the same seed trained again gives the same figures (so a
    spread over seeds measures the seed, not the machine), and each seed gets its own row and sentence."""
    from crysense.reporting.text import seed_spread_sentence
    from crysense.training.trainset import RunData
    clips = [tone(300 + 60 * i, 1.0) for i in range(3)] + [noise(1.0, seed=i) for i in range(3)] + \
            [0.2 * tone(2500 + 90 * i, 1.0) for i in range(3)]
    y = np.repeat([0, 1, 2], 3)
    acts = [base.trunk_activations(x).astype(np.float16) for x in clips]
    run = RunData(TrainSet([[a] for a in acts], y, np.ones(len(y))), {"orig": acts}, y, np.ones(len(y)), None, None)
    cfg = yamnet.FinetuneConfig(top_blocks=1, head_epochs=2, finetune_epochs=1, head_patience=2,
                                finetune_patience=1, batch_size=3)
    labels = ["crying", "screaming", "normal"]
    first = yamnet.finetune(base, labels, run.train, run.val, run.val_y, run.val_w, cfg, progress=False)
    spread = yamnet.seed_spread(base, labels, run, {"val": (acts, y)}, cfg, [0, 0, 1], first=(*first, 1.5),
                                progress=False)
    assert list(spread.index) == [0, 0, 1] and spread["train_seconds"].iloc[0] == 1.5
    assert spread["val macro-F1"].iloc[0] == spread["val macro-F1"].iloc[1]   # seed 0 again: the same model
    assert spread["epochs"].iloc[0] == spread["epochs"].iloc[1]
    again, _ = yamnet.finetune(base, labels, run.train, run.val, run.val_y, run.val_w, cfg, progress=False)
    assert np.allclose(again.predict_acts(acts), first[0].predict_acts(acts), atol=1e-6)
    text = seed_spread_sentence(spread, "Fine-tuned")
    assert text.startswith("Fine-tuned with seeds 0, 0, 1") and "val macro-F1" in text
