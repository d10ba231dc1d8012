"""Pretraining: every objective trains a tiny config for a fixed number of steps with a finite, falling loss; the
saved folder loads into the sequence-classification models with the same weights; the teacher's patches line up
with the student's frames; the probe's choice follows its rule; the backbone switch (hub / pretrain / folder)
resolves, and the hub path loads offline from a local hub cache."""
import numpy as np
import pytest
import torch

from conftest import noise, tone
from crysense.speech import backbones, pretrain, probe, teacher

SR = 16_000


def n_patches(n: int) -> int:
    """YAMNet's patch count for ``n`` samples (its padding rule)."""
    return max(1, 1 + int(np.ceil((n - teacher.PATCH_SPAN) / teacher.PATCH_HOP)))


def items(k: int = 8, seed: int = 0):
    """Synthetic teacher outputs: the 'embedding' of each patch is its clip's pitch, so it is learnable."""
    rng = np.random.default_rng(seed)
    rows, waves, embs, scores = [], {}, [], []
    for i in range(k):
        x = tone(200 + 60 * i, 1.5 + 0.5 * (i % 3)) * rng.uniform(0.5, 1) + noise(1.5 + 0.5 * (i % 3), amp=0.02, seed=i)
        rows.append({"sha256": f"clip{i}"})
        waves[f"clip{i}"] = x
        p = n_patches(len(x))
        embs.append(np.tile(np.linspace(-1, 1, 1024) * (i - k / 2), (p, 1)).astype(np.float16))
        scores.append(np.full((p, 521), i / k, np.float16))
    return teacher.TeacherOutputs(rows, ["orig"] * k, embs, scores), (lambda row, v: waves[row["sha256"]])


RUNS = [("wav2vec2", "ssl"), ("hubert", "ssl"), ("wav2vec2", "distill"), ("hubert", "teacher_kmeans")]


@pytest.mark.parametrize("family,objective", RUNS)
def test_every_objective_learns_for_fixed_steps_and_round_trips(family, objective, tmp_path):
    from transformers import HubertForSequenceClassification, Wav2Vec2ForSequenceClassification
    outputs, audio = items()
    cfg = pretrain.PretrainConfig.smoke(objective=objective, steps=25, lr=2e-3, warmup_steps=2)
    sampler = teacher.PatchCropSampler(outputs, audio, cfg.patches, cfg.batch_size, seed=0)
    summary = pretrain.pretrain(family, sampler, tmp_path / family, cfg, progress=False)
    losses = np.array([h["loss"] for h in summary["history"]])
    assert len(losses) == 25 == summary["steps"] and np.isfinite(losses).all()
    assert losses[-5:].mean() < losses[:5].mean(), losses
    cls = Wav2Vec2ForSequenceClassification if family == "wav2vec2" else HubertForSequenceClassification
    clf = cls.from_pretrained(tmp_path / family, num_labels=3)
    base = backbones.load_backbone(family, str(tmp_path / family))
    inner = clf.wav2vec2 if family == "wav2vec2" else clf.hubert
    for (name, a), (_, b) in zip(base.state_dict().items(), inner.state_dict().items()):
        assert torch.equal(a, b), name


def test_a_run_is_defined_by_steps_and_seed_not_time(tmp_path):
    outputs, audio = items()
    cfg = pretrain.PretrainConfig.smoke(objective="distill", steps=3)
    runs = [pretrain.pretrain("wav2vec2", teacher.PatchCropSampler(outputs, audio, cfg.patches, cfg.batch_size, seed=0),
                              tmp_path / str(k), cfg, progress=False) for k in range(2)]
    assert [h["loss"] for h in runs[0]["history"]] == [h["loss"] for h in runs[1]["history"]]
    assert not hasattr(cfg, "time_budget_s")


def test_teacher_patches_line_up_with_student_frames():
    # a crop of P patches has exactly 24 (P - 1) + 48 student frames, and patch j pools frames [24 j, 24 j + 48)
    model = backbones.random_backbone("wav2vec2", "tiny")
    for P in (1, 3, 8):
        n = teacher.crop_samples(P)
        assert n_patches(n) == P
        frames = int(model._get_feat_extract_output_lengths(torch.tensor(n)))
        assert frames == 24 * (P - 1) + 48
    h = torch.arange(72, dtype=torch.float32)[None, :, None]       # frame index as the feature
    pooled = teacher.patch_pool(h, 2)[0, :, 0]
    assert torch.allclose(pooled, torch.tensor([23.5, 47.5]))        # means of frames 0..47 and 24..71
    ids = teacher.frame_targets(np.array([[5, 7, 9]]), 96)
    assert ids[0, 0] == 5 and ids[0, 40] == 7 and ids[0, 64] == 9 and ids[0, -1] == 9


def test_sampler_crops_start_on_patches_and_mark_padding():
    outputs, audio = items()
    s = teacher.PatchCropSampler(outputs, audio, patches=4, batch_size=16, seed=1)
    b = s.batch()
    assert b["x"].shape == (16, teacher.crop_samples(4)) and b["embedding"].shape == (16, 4, 1024)
    assert np.allclose(b["x"].mean(1), 0, atol=1e-4)                 # normalised per crop
    assert b["valid"].sum(1).min() >= 1 and not b["valid"].all()     # short clips: padded patches marked
    assert np.all(b["embedding"][~b["valid"]] == 0)


def test_probe_choice_follows_its_rule():
    rows = [{"family": "wav2vec2", "objective": "ssl", "size": "compact", "run": "a", "val_macro_f1": 0.99},
            {"family": "wav2vec2", "objective": "distill", "size": "large", "run": "b", "val_macro_f1": 0.80},
            {"family": "wav2vec2", "objective": "distill", "size": "compact", "run": "c", "val_macro_f1": 0.80},
            {"family": "hubert", "objective": "teacher_kmeans", "size": "compact", "run": "d", "val_macro_f1": 0.70},
            {"family": "hubert", "objective": "distill", "size": "compact", "run": "e", "val_macro_f1": 0.75}]
    assert backbones.choose(rows, "wav2vec2")["run"] == "a"      # the teacher must beat plain SSL to be chosen
    rows[0]["val_macro_f1"] = 0.5
    assert backbones.choose(rows, "wav2vec2")["run"] == "c"      # a tie goes to the smaller model
    assert backbones.choose(rows, "hubert")["run"] == "e"


def test_backbone_source_switch(tmp_path, monkeypatch):
    monkeypatch.setenv("CRYSENSE_ROOT", str(tmp_path))
    assert backbones.resolve_backbone("wav2vec2", "hub") == "facebook/wav2vec2-base"
    assert backbones.resolve_backbone("hubert", "hub") == "ntu-spml/distilhubert"
    with pytest.raises(FileNotFoundError, match="no hubert backbone"):
        backbones.resolve_backbone("hubert", "pretrain")
    (tmp_path / "mine" / "wav2vec2").mkdir(parents=True)
    (tmp_path / "mine" / "wav2vec2" / "config.json").write_text("{}")
    assert backbones.resolve_backbone("wav2vec2", str(tmp_path / "mine")) == str(tmp_path / "mine" / "wav2vec2")
    run = tmp_path / "models" / "pretrained" / "wav2vec2-ssl-compact"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    assert backbones.resolve_backbone("wav2vec2", "pretrain", run="wav2vec2-ssl-compact") == str(run)
    monkeypatch.setenv("CRYSENSE_BACKBONE", "hub")
    assert backbones.resolve_backbone("wav2vec2") == "facebook/wav2vec2-base"


@pytest.mark.parametrize("family", backbones.FAMILIES)
def test_hub_path_loads_offline_from_a_local_hub_cache(family, tmp_path, monkeypatch):
    """What an online user runs (``source='hub'``: ``from_pretrained(<hub id>)``), here against a hub cache holding a
    tiny randomly initialised model saved with ``save_pretrained``; HF_HUB_OFFLINE forbids any network."""
    from crysense.speech import transformer as st
    repo = tmp_path / "hub" / f"models--{backbones.HUB_IDS[family].replace('/', '--')}"
    commit = "0" * 40
    saved = backbones.random_backbone(family, "tiny", seed=3)
    saved.save_pretrained(repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hc
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    model = st.load_classifier(family, source="hub")
    assert model.config.crysense_backbone == backbones.HUB_IDS[family]
    a = st.base_of(model).state_dict()
    for name, w in saved.state_dict().items():
        assert torch.equal(a[name], w), name


def test_probe_features_shape():
    model = backbones.random_backbone("hubert", "tiny")
    X = probe.pooled_features(model, [noise(0.5), noise(3.0, seed=1), tone(300, 1.2)], progress=False)
    assert X.shape == (3, 32) and np.isfinite(X).all()
