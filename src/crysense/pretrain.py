"""Self-supervised pretraining of compact Wav2Vec2 and HuBERT backbones on our own audio.

No pretrained Wav2Vec2/HuBERT checkpoint can be fetched here (the hubs are unreachable), so the study
pretrains in-domain, on the *train split only* (never val/test audio):

- wav2vec 2.0: transformers' ``Wav2Vec2ForPreTraining`` (span masking, contrastive loss against
  Gumbel-quantised targets with sampled negatives, codebook diversity loss);
- HuBERT, first iteration: ``HubertModel`` + a linear layer predicting, at masked frames, k-means cluster
  ids of MFCC(+deltas) frames (k-means from scikit-learn).

Both save standard ``save_pretrained`` folders under ``models/pretrained/<family>/`` that
``Wav2Vec2ForSequenceClassification`` / ``HubertForSequenceClassification.from_pretrained`` load.

One switch decides where backbones come from (``backbone_source``; ``CRYSENSE_BACKBONE``):
``"hub"`` (the hub ids, for users online), ``"pretrain"`` (pretrain here, the default offline), or a local
folder holding ``wav2vec2/`` and ``hubert/``.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .config import AUDIO, get_paths

HUB_IDS = {"wav2vec2": "facebook/wav2vec2-base", "hubert": "ntu-spml/distilhubert"}
FAMILIES = tuple(HUB_IDS)


def backbone_source(source: str | None = None) -> str:
    return source or os.environ.get("CRYSENSE_BACKBONE") or "pretrain"


def resolve_backbone(family: str, source: str | None = None, paths=None) -> str:
    """What to pass to ``from_pretrained`` for ``family`` under the configured source."""
    source = backbone_source(source)
    paths = paths or get_paths()
    if source == "hub":
        return HUB_IDS[family]
    folder = paths.models / "pretrained" / family if source == "pretrain" else Path(source) / family
    if not (folder / "config.json").exists():
        hint = "run notebooks/02b_pretraining.ipynb (./run_all.sh)" if source == "pretrain" else "check the folder"
        raise FileNotFoundError(f"no {family} backbone at {folder}: {hint}")
    return str(folder)


# --- configurations ---------------------------------------------------------------------------------------

def compact_config(family: str, size: str = "compact", **overrides):
    """A backbone sized for 2 CPU cores ('compact', ~3.7 M parameters) or for tests ('tiny').

    Same conv front-end geometry as wav2vec2-base (20 ms frames, 25 ms receptive field) with 128 channels
    instead of 512 (the front-end is most of a CPU training step),
    4 transformer layers of width 256 instead of 12 of 768.
    """
    from transformers import HubertConfig, Wav2Vec2Config

    dims = {"compact": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
                            conv_dim=(128,) * 7, num_conv_pos_embeddings=64, num_conv_pos_embedding_groups=16),
            "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                         conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)}[size]
    common = dict(feat_extract_norm="group", do_stable_layer_norm=False, mask_time_prob=0.5, mask_time_length=5,
                  hidden_dropout=0.1, attention_dropout=0.1, activation_dropout=0.0, feat_proj_dropout=0.1,
                  layerdrop=0.0, num_labels=3, classifier_proj_size=128, use_weighted_layer_sum=False)
    if family == "wav2vec2":
        q = dict(codevector_dim=128, proj_codevector_dim=128, num_codevectors_per_group=64, num_codevector_groups=2,
                 num_negatives=50, diversity_loss_weight=0.1, feat_quantizer_dropout=0.0)
        if size == "tiny":
            q.update(codevector_dim=16, proj_codevector_dim=16, num_codevectors_per_group=8, num_negatives=10)
        return Wav2Vec2Config(**{**common, **dims, **q, **overrides})
    return HubertConfig(**{**common, **dims, **overrides})


@dataclasses.dataclass
class PretrainConfig:
    size: str = "compact"
    crop_s: float = 4.0              # random crops of training clips
    batch_size: int = 8
    lr: float = 5e-4
    warmup_steps: int = 30
    max_steps: int = 100_000         # the time budget usually ends training first
    time_budget_s: float = 600.0
    band_limit_prob: float = 0.5     # same augmentation as the classifiers (bandwidth confound)
    n_clusters: int = 50             # HuBERT k-means targets
    seed: int = 0

    @classmethod
    def smoke(cls) -> "PretrainConfig":
        return cls(size="tiny", crop_s=2.0, batch_size=4, max_steps=4, time_budget_s=60, warmup_steps=1,
                   n_clusters=8)


# --- data -------------------------------------------------------------------------------------------------

class CropSampler:
    """Random fixed-length crops of the given clips (zero-padded if shorter), some band-limited."""

    def __init__(self, clips: list[np.ndarray], cfg: PretrainConfig, seed: int = 0):
        self.clips = [c for c in clips if len(c) > 0]
        self.n = int(cfg.crop_s * AUDIO.sample_rate)
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)

    def batch(self) -> np.ndarray:
        from .audio import band_limit
        out = np.zeros((self.cfg.batch_size, self.n), np.float32)
        for i, k in enumerate(self.rng.integers(0, len(self.clips), self.cfg.batch_size)):
            x = self.clips[k]
            if len(x) > self.n:
                a = self.rng.integers(0, len(x) - self.n + 1)
                x = x[a:a + self.n]
            if self.rng.random() < self.cfg.band_limit_prob:
                x = band_limit(x)
            out[i, : len(x)] = x
        return normalise(out)


def normalise(batch: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per clip: what ``Wav2Vec2FeatureExtractor(do_normalize=True)`` does."""
    return ((batch - batch.mean(-1, keepdims=True)) / np.sqrt(batch.var(-1, keepdims=True) + 1e-7)).astype(np.float32)


# --- HuBERT targets: k-means on MFCC frames aligned with the model's 20 ms frames ------------------------

def mfcc_frames(x: np.ndarray, sr: int = AUDIO.sample_rate) -> np.ndarray:
    """[frames, 39] MFCC + deltas, one frame per 320 samples over 400 (the conv front-end's framing)."""
    import librosa
    m = librosa.feature.mfcc(y=x, sr=sr, n_mfcc=13, n_fft=400, hop_length=320, win_length=400, center=False,
                             n_mels=40)
    feats = np.concatenate([m, librosa.feature.delta(m, width=3), librosa.feature.delta(m, order=2, width=3)])
    return feats.T.astype(np.float32)


def fit_mfcc_kmeans(sampler: CropSampler, n_clusters: int, n_batches: int = 40, seed: int = 0):
    from sklearn.cluster import MiniBatchKMeans
    frames = np.concatenate([mfcc_frames(x) for _ in range(n_batches) for x in sampler.batch()])
    km = MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, n_init=3, batch_size=4096).fit(frames)
    return km


class HubertPretrainer(nn.Module):
    """HuBERT masked prediction: HubertModel + a linear layer to cluster logits, loss on masked frames."""

    def __init__(self, config, n_clusters: int):
        super().__init__()
        from transformers import HubertModel
        self.hubert = HubertModel(config)
        self.to_clusters = nn.Linear(config.hidden_size, n_clusters)

    def forward(self, input_values, mask_time_indices, targets):
        h = self.hubert(input_values, mask_time_indices=mask_time_indices).last_hidden_state
        logits = self.to_clusters(h)
        t = targets[:, : logits.shape[1]]
        m = mask_time_indices[:, : t.shape[1]]
        return nn.functional.cross_entropy(logits[:, : t.shape[1]][m], t[m])


# --- the loop ------------------------------------------------------------------------------------------------

def _mask(model_config, batch_size: int, n_frames: int, rng_seed: int):
    from transformers.models.wav2vec2.modeling_wav2vec2 import _compute_mask_indices
    np.random.seed(rng_seed)   # _compute_mask_indices draws from numpy's global generator
    mask = _compute_mask_indices((batch_size, n_frames), mask_prob=model_config.mask_time_prob,
                                 mask_length=model_config.mask_time_length, min_masks=2)
    return mask


def pretrain(family: str, clips: list[np.ndarray], out_dir, cfg: PretrainConfig = PretrainConfig(),
             progress: bool = True) -> dict:
    """Pretrain ``family`` on ``clips`` until ``cfg.time_budget_s`` or ``cfg.max_steps``; save to ``out_dir``.

    Returns a summary with the per-step loss history and the wall time.
    """
    from tqdm import tqdm
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2ForPreTraining
    from transformers.models.wav2vec2.modeling_wav2vec2 import _sample_negative_indices

    torch.manual_seed(cfg.seed)
    sampler = CropSampler(clips, cfg, seed=cfg.seed)
    config = compact_config(family, cfg.size)
    t_start = time.time()
    kmeans = None
    if family == "wav2vec2":
        model = Wav2Vec2ForPreTraining(config)
        base = model.wav2vec2
    else:
        kmeans = fit_mfcc_kmeans(sampler, cfg.n_clusters, n_batches=4 if cfg.size == "tiny" else 40, seed=cfg.seed)
        model = HubertPretrainer(config, cfg.n_clusters)
        base = model.hubert
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / cfg.warmup_steps))
    n_frames = int(base._get_feat_extract_output_lengths(torch.tensor(sampler.n)).item())
    history = []
    model.train()
    bar = tqdm(total=cfg.max_steps if cfg.max_steps < 1000 else None, desc=f"pretrain {family}", disable=not progress)
    step = 0
    while step < cfg.max_steps and time.time() - t_start < cfg.time_budget_s:
        x = sampler.batch()
        mask = _mask(config, cfg.batch_size, n_frames, cfg.seed * 100_003 + step)
        mask_t = torch.tensor(mask, dtype=torch.bool)
        t0 = time.time()
        if family == "wav2vec2":
            # anneal the Gumbel temperature 2 -> 0.5 over the expected number of steps
            frac = min(1.0, (time.time() - t_start) / cfg.time_budget_s) if cfg.max_steps >= 1000 else step / cfg.max_steps
            model.set_gumbel_temperature(max(0.5, 2.0 * (0.25 ** frac)))
            neg = _sample_negative_indices((cfg.batch_size, n_frames), config.num_negatives, mask)
            out = model(torch.from_numpy(x), mask_time_indices=mask_t, sampled_negative_indices=torch.tensor(neg))
            n_masked = mask_t.sum()
            loss = out.loss / n_masked
            extra = {"contrastive": float(out.contrastive_loss.detach() / n_masked),
                     "diversity": float(out.diversity_loss.detach() / n_masked),
                     "perplexity": out.codevector_perplexity.item()}
        else:
            targets = torch.tensor(np.stack([kmeans.predict(mfcc_frames(xi)) for xi in x]), dtype=torch.long)
            loss = model(torch.from_numpy(x), mask_t, targets)
            extra = {}
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        step += 1
        history.append({"step": step, "loss": loss.item(), "seconds": time.time() - t_start,
                        "step_seconds": time.time() - t0, **extra})
        bar.update(1)
        bar.set_postfix(loss=f"{history[-1]['loss']:.3f}")
    bar.close()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base.save_pretrained(out_dir)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=AUDIO.sample_rate, padding_value=0.0, do_normalize=True,
                             return_attention_mask=False).save_pretrained(out_dir)
    summary = {"family": family, "steps": step, "wall_seconds": time.time() - t_start, "config": dataclasses.asdict(cfg),
               "parameters": sum(p.numel() for p in base.parameters()), "n_clips": len(sampler.clips),
               "history": history}
    (out_dir / "pretraining.json").write_text(json.dumps(summary, indent=1))
    return summary


def random_backbone(family: str, size: str = "compact", seed: int = 0):
    """The same architecture, randomly initialised: the control of the linear probe."""
    from transformers import HubertModel, Wav2Vec2Model
    torch.manual_seed(seed)
    config = compact_config(family, size)
    return (Wav2Vec2Model if family == "wav2vec2" else HubertModel)(config)


def load_backbone(family: str, source: str):
    from transformers import HubertModel, Wav2Vec2Model
    return (Wav2Vec2Model if family == "wav2vec2" else HubertModel).from_pretrained(source)


@torch.no_grad()
def pooled_features(backbone, clips: list[np.ndarray], max_s: float = 10.0, batch: int = 8,
                    progress: bool = True) -> np.ndarray:
    """Mean over time of the last hidden state of each clip (first ``max_s`` seconds, normalised)."""
    from tqdm import tqdm
    backbone.eval()
    out = []
    n_max = int(max_s * AUDIO.sample_rate)
    order = np.argsort([min(len(c), n_max) for c in clips])   # similar lengths together: little padding
    feats = [None] * len(clips)
    for i in tqdm(range(0, len(order), batch), desc="features", disable=not progress):
        idx = order[i:i + batch]
        n = max(min(len(clips[j]), n_max) for j in idx)
        n = max(n, AUDIO.sample_rate)
        x = np.zeros((len(idx), n), np.float32)
        lengths = []
        for r, j in enumerate(idx):
            c = clips[j][:n_max]
            x[r, : len(c)] = normalise(c[None])[0]
            lengths.append(len(c))
        h = backbone(torch.from_numpy(x)).last_hidden_state
        frames = backbone._get_feat_extract_output_lengths(torch.tensor(lengths))
        for r, j in enumerate(idx):
            feats[j] = h[r, : max(1, int(frames[r]))].mean(0).numpy()
    return np.stack(feats) if feats else np.zeros((0, 0))


def linear_probe(train_X, train_y, val_X, val_y) -> dict:
    """Logistic regression on frozen features: validation accuracy and macro-F1."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, class_weight="balanced"))
    model.fit(train_X, train_y)
    pred = model.predict(val_X)
    return {"val_accuracy": float(accuracy_score(val_y, pred)), "val_macro_f1": float(f1_score(val_y, pred, average="macro"))}


def plot_pretraining(summaries: dict):
    """Loss per step of each pretrained family (raw and smoothed), against wall time on top axis."""
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, axes = plt.subplots(1, len(summaries), figsize=(6 * len(summaries), 3.8), squeeze=False)
    for ax, (family, s) in zip(axes[0], summaries.items()):
        h = pd.DataFrame(s["history"])
        ax.plot(h["step"], h["loss"], alpha=0.3, label="loss per step")
        ax.plot(h["step"], h["loss"].rolling(max(1, len(h) // 20), min_periods=1).mean(), label="smoothed")
        if "contrastive" in h:
            ax.plot(h["step"], h["contrastive"].rolling(max(1, len(h) // 20), min_periods=1).mean(), "--",
                    label="contrastive (smoothed)")
        kind = "contrastive + 0.1 x diversity, per masked frame" if family == "wav2vec2" else "cross-entropy on masked frames (k-means targets)"
        ax.set(title=f"{family}: {s['steps']} steps in {s['wall_seconds'] / 60:.1f} min", xlabel="step", ylabel=kind)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
