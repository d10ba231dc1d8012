"""Self-supervised pretraining: a tiny config trains a few steps with a finite, falling loss, and the saved
folder loads into the sequence-classification models with the same weights."""
import numpy as np
import pytest
import torch

from conftest import noise, tone
from crysense import pretrain


def clips():
    rng = np.random.default_rng(0)
    return [tone(200 + 40 * i, 2.5) * rng.uniform(0.5, 1) + noise(2.5, amp=0.02, seed=i) for i in range(6)] + \
           [noise(2.5, seed=10 + i) for i in range(3)]


@pytest.mark.parametrize("family", pretrain.FAMILIES)
def test_tiny_pretraining_learns_and_round_trips(family, tmp_path):
    from transformers import HubertForSequenceClassification, Wav2Vec2ForSequenceClassification

    cfg = pretrain.PretrainConfig(size="tiny", crop_s=1.0, batch_size=4, max_steps=25, warmup_steps=2, lr=2e-3,
                                  time_budget_s=300, n_clusters=8, band_limit_prob=0.0)
    summary = pretrain.pretrain(family, clips(), tmp_path / family, cfg, progress=False)
    losses = np.array([h["loss"] for h in summary["history"]])
    assert len(losses) == 25 and np.isfinite(losses).all()
    assert losses[-5:].mean() < losses[:5].mean(), losses
    cls = Wav2Vec2ForSequenceClassification if family == "wav2vec2" else HubertForSequenceClassification
    clf = cls.from_pretrained(tmp_path / family, num_labels=3)
    base = pretrain.load_backbone(family, str(tmp_path / family))
    inner = clf.wav2vec2 if family == "wav2vec2" else clf.hubert
    for (name, a), (_, b) in zip(base.state_dict().items(), inner.state_dict().items()):
        assert torch.equal(a, b), name


def test_backbone_source_switch(tmp_path, monkeypatch):
    monkeypatch.setenv("CRYSENSE_ROOT", str(tmp_path))
    assert pretrain.resolve_backbone("wav2vec2", "hub") == "facebook/wav2vec2-base"
    assert pretrain.resolve_backbone("hubert", "hub") == "ntu-spml/distilhubert"
    with pytest.raises(FileNotFoundError, match="no hubert backbone"):
        pretrain.resolve_backbone("hubert", "pretrain")
    (tmp_path / "mine" / "wav2vec2").mkdir(parents=True)
    (tmp_path / "mine" / "wav2vec2" / "config.json").write_text("{}")
    assert pretrain.resolve_backbone("wav2vec2", str(tmp_path / "mine")) == str(tmp_path / "mine" / "wav2vec2")
    monkeypatch.setenv("CRYSENSE_BACKBONE", "hub")
    assert pretrain.resolve_backbone("wav2vec2") == "facebook/wav2vec2-base"


def test_probe_features_shape():
    model = pretrain.random_backbone("hubert", "tiny")
    X = pretrain.pooled_features(model, [noise(0.5), noise(3.0, seed=1), tone(300, 1.2)], progress=False)
    assert X.shape == (3, 32) and np.isfinite(X).all()
