"""Pretraining compact Wav2Vec2 and HuBERT backbones on our own audio (train split only, never val/test).

No pretrained Wav2Vec2/HuBERT checkpoint can be fetched here, so notebook 02b pretrains in-domain. Objectives:

- ``ssl``, plain self-supervision (the baseline): for Wav2Vec2, transformers' ``Wav2Vec2ForPreTraining`` (span
  masking, contrastive loss against Gumbel-quantised targets with sampled negatives, codebook diversity); for
  HuBERT, its first iteration (masked prediction of k-means ids of MFCC frames);
- ``distill``, teacher-guided (`crysense.speech.teacher`): heads on the last two layers regress AudioSet YAMNet's patch
  embeddings and scores (DistilHuBERT's recipe, YAMNet as the teacher);
- ``teacher_kmeans``, teacher-guided HuBERT, second iteration: masked prediction of k-means ids of YAMNet's patch
  embeddings.

A run is defined by its steps, batch size and seed (``PretrainConfig``), never by wall time: the same commit gives
the same backbone on any machine; the time is reported beside it. Every run crops the same items (the training
clips as recorded and their augmented views: rooms, background mixing, codecs and phone band, gain, shift) through
one sampler, so objectives differ only in what they predict. Each saves a ``save_pretrained`` folder that
``Wav2Vec2ForSequenceClassification`` / ``HubertForSequenceClassification.from_pretrained`` load.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..config import AUDIO, progress_bar
from .backbones import compact_config, model_class, run_name
from .teacher import PatchCropSampler, fit_patch_kmeans, frame_targets, patch_pool

OBJECTIVES = ("ssl", "distill", "teacher_kmeans")


@dataclasses.dataclass
class PretrainConfig:
    objective: str = "ssl"
    size: str = "compact"
    steps: int = 300
    batch_size: int = 8
    patches: int = 8                 # crop length in YAMNet patches: 8 -> 4.3 s
    lr: float = 5e-4
    warmup_steps: int = 50           # then linear decay to 10 % at the last step
    n_clusters: int = 100            # HuBERT k-means targets (MFCC frames or teacher patches)
    score_weight: float = 10.0       # distillation: weight of the AudioSet-score term beside the embedding term
    seed: int = 0

    @classmethod
    def smoke(cls, **kw) -> "PretrainConfig":
        return cls(**{**dict(size="tiny", steps=4, batch_size=4, patches=3, warmup_steps=1, n_clusters=8), **kw})


def mask_indices(model_config, batch_size: int, n_frames: int, seed: int) -> np.ndarray:
    """wav2vec 2.0 / HuBERT span masks [B, frames], seeded per step."""
    from transformers.models.wav2vec2.modeling_wav2vec2 import _compute_mask_indices
    np.random.seed(seed)   # _compute_mask_indices draws from numpy's global generator
    return _compute_mask_indices((batch_size, n_frames), mask_prob=model_config.mask_time_prob,
                                 mask_length=model_config.mask_time_length, min_masks=2)


def mfcc_frames(x: np.ndarray, sr: int = AUDIO.sample_rate) -> np.ndarray:
    """[frames, 39] MFCC + deltas, one frame per 320 samples over 400 (the conv front-end's framing)."""
    import librosa
    m = librosa.feature.mfcc(y=x, sr=sr, n_mfcc=13, n_fft=400, hop_length=320, win_length=400, center=False,
                             n_mels=40)
    feats = np.concatenate([m, librosa.feature.delta(m, width=3), librosa.feature.delta(m, order=2, width=3)])
    return feats.T.astype(np.float32)


# --- objectives: a module holding the backbone, and a loss per batch ----------------------------------------


class Wav2Vec2Contrastive(nn.Module):
    """wav2vec 2.0's own objective, through transformers' ``Wav2Vec2ForPreTraining``."""

    def __init__(self, config, cfg: PretrainConfig):
        super().__init__()
        from transformers import Wav2Vec2ForPreTraining
        self.model, self.cfg = Wav2Vec2ForPreTraining(config), cfg
        self.backbone = self.model.wav2vec2

    def loss(self, batch, step: int):
        from transformers.models.wav2vec2.modeling_wav2vec2 import _sample_negative_indices
        x = torch.from_numpy(batch["x"])
        n_frames = int(self.backbone._get_feat_extract_output_lengths(torch.tensor(x.shape[1])))
        mask = mask_indices(self.backbone.config, len(x), n_frames, self.cfg.seed * 100_003 + step)
        # Gumbel temperature 2 -> 0.5 over the run (wav2vec 2.0's schedule, by step)
        self.model.set_gumbel_temperature(max(0.5, 2.0 * 0.25 ** (step / max(1, self.cfg.steps - 1))))
        neg = _sample_negative_indices((len(x), n_frames), self.backbone.config.num_negatives, mask)
        out = self.model(x, mask_time_indices=torch.from_numpy(mask), sampled_negative_indices=torch.from_numpy(neg))
        n = float(mask.sum())
        return out.loss / n, {"contrastive": float(out.contrastive_loss.detach()) / n,
                              "diversity": float(out.diversity_loss.detach()) / n,
                              "perplexity": float(out.codevector_perplexity.detach())}


class MaskedClusters(nn.Module):
    """HuBERT's masked prediction: cluster logits at masked frames. ``targets(batch, n_frames)`` -> [B, frames]
    cluster ids and a [B, frames] validity mask (MFCC k-means or teacher-patch k-means)."""

    def __init__(self, config, cfg: PretrainConfig, targets):
        super().__init__()
        self.backbone = model_class("hubert")(config)
        self.to_clusters = nn.Linear(config.hidden_size, cfg.n_clusters)
        self.cfg, self.targets = cfg, targets

    def loss(self, batch, step: int):
        x = torch.from_numpy(batch["x"])
        n_frames = int(self.backbone._get_feat_extract_output_lengths(torch.tensor(x.shape[1])))
        mask = torch.from_numpy(mask_indices(self.backbone.config, len(x), n_frames, self.cfg.seed * 100_003 + step))
        ids, ok = (torch.from_numpy(a) for a in self.targets(batch, n_frames))
        h = self.backbone(x, mask_time_indices=mask).last_hidden_state
        m = mask & ok
        return nn.functional.cross_entropy(self.to_clusters(h)[m], ids[m].long()), {}


class TeacherDistillation(nn.Module):
    """Heads on the last two transformer layers regress the teacher's standardised patch embedding (L1 plus
    -log sigmoid(cosine), as DistilHuBERT) and its AudioSet scores (binary cross-entropy, soft targets). The
    second-to-last layer's output is what fine-tuning caches and the top layer reads, so it is taught too."""

    def __init__(self, family: str, config, cfg: PretrainConfig, emb_dim: int = 1024, n_scores: int = 521):
        super().__init__()
        self.backbone = model_class(family)(config)
        self.heads = nn.ModuleList([nn.Linear(config.hidden_size, emb_dim + n_scores) for _ in range(2)])
        self.cfg, self.emb_dim = cfg, emb_dim

    def loss(self, batch, step: int):
        x = torch.from_numpy(batch["x"])
        n_frames = int(self.backbone._get_feat_extract_output_lengths(torch.tensor(x.shape[1])))
        no_mask = torch.zeros(len(x), n_frames, dtype=torch.bool)   # an explicit empty mask: no SpecAugment here
        hidden = self.backbone(x, mask_time_indices=no_mask, output_hidden_states=True).hidden_states
        target, scores = torch.from_numpy(batch["embedding"]), torch.from_numpy(batch["scores"])
        valid = torch.from_numpy(batch["valid"]).float()
        P = target.shape[1]
        parts = {}
        for name, h, head in zip(("penultimate", "last"), hidden[-2:], self.heads):
            out = head(patch_pool(h, P))
            emb, logits = out[..., :self.emb_dim], out[..., self.emb_dim:]
            emb_loss = (emb - target).abs().mean(-1) - nn.functional.logsigmoid(
                nn.functional.cosine_similarity(emb, target, dim=-1))
            bce = nn.functional.binary_cross_entropy_with_logits(logits, scores, reduction="none").mean(-1)
            parts[f"embedding_{name}"] = (emb_loss * valid).sum() / valid.sum()
            parts[f"scores_{name}"] = (bce * valid).sum() / valid.sum()
        loss = sum(v if k.startswith("embedding") else self.cfg.score_weight * v for k, v in parts.items()) / 2
        return loss, {k: float(v.detach()) for k, v in parts.items()}


def make_objective(family: str, cfg: PretrainConfig, sampler: PatchCropSampler) -> nn.Module:
    config = compact_config(family, cfg.size)
    if cfg.objective == "distill":
        return TeacherDistillation(family, config, cfg)
    if cfg.objective == "ssl" and family == "wav2vec2":
        return Wav2Vec2Contrastive(config, cfg)
    if family != "hubert" or cfg.objective not in OBJECTIVES:
        raise ValueError(f"no objective {cfg.objective!r} for {family}; one of {OBJECTIVES} (teacher_kmeans: hubert)")
    if cfg.objective == "ssl":   # HuBERT's first iteration: clusters of MFCC frames of sampled crops
        from sklearn.cluster import MiniBatchKMeans
        # crops of their own seed: the training crops stay the ones every other run sees
        fitting = PatchCropSampler(sampler.items, sampler.audio, sampler.patches, sampler.batch_size,
                                   seed=cfg.seed + 1, stats=(sampler.mean, sampler.std))
        frames = np.concatenate([mfcc_frames(x) for _ in range(8 if cfg.size == "tiny" else 40)
                                 for x in fitting.batch()["x"]])
        km = MiniBatchKMeans(n_clusters=cfg.n_clusters, random_state=cfg.seed, n_init=3, batch_size=4096).fit(frames)

        def targets(batch, n_frames):
            ids = np.stack([km.predict(mfcc_frames(x))[:n_frames] for x in batch["x"]])
            return ids, np.ones_like(ids, bool)
    else:                        # the second iteration's targets: clusters of the teacher's patch embeddings
        km = fit_patch_kmeans(sampler.items, cfg.n_clusters, (sampler.mean, sampler.std), seed=cfg.seed)

        def targets(batch, n_frames):
            B, P, D = batch["embedding"].shape
            ids = km.predict(batch["embedding"].reshape(-1, D)).reshape(B, P)
            return frame_targets(ids, n_frames), frame_targets(batch["valid"], n_frames)
    return MaskedClusters(config, cfg, targets)


# --- the loop -------------------------------------------------------------------------------------------------


def pretrain(family: str, sampler: PatchCropSampler, out_dir, cfg: PretrainConfig = PretrainConfig(),
             progress: bool = True) -> dict:
    """Pretrain ``family`` with ``cfg.objective`` for ``cfg.steps`` steps on ``sampler``'s crops; save the
    backbone to ``out_dir``. Returns a summary with the per-step loss history and the wall time."""
    from transformers import Wav2Vec2FeatureExtractor

    torch.manual_seed(cfg.seed)
    t_start = time.time()
    objective = make_objective(family, cfg, sampler)
    opt = torch.optim.AdamW(objective.parameters(), lr=cfg.lr, weight_decay=0.01)
    decay = max(1, cfg.steps - cfg.warmup_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / cfg.warmup_steps,
                                                                 1.0 - 0.9 * max(0, s - cfg.warmup_steps) / decay))
    history = []
    objective.train()
    bar = progress_bar(range(cfg.steps), desc=f"pretrain {family} ({cfg.objective}, {cfg.size})", show=progress)
    for step in bar:
        t0 = time.time()
        loss, extra = objective.loss(sampler.batch(), step)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(objective.parameters(), 5.0)
        opt.step()
        sched.step()
        history.append({"step": step + 1, "loss": loss.item(), "seconds": time.time() - t_start,
                        "step_seconds": time.time() - t0, **extra})
        bar.set_postfix(loss=f"{history[-1]['loss']:.3f}", refresh=False)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    objective.backbone.save_pretrained(out_dir)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=AUDIO.sample_rate, padding_value=0.0, do_normalize=True,
                             return_attention_mask=False).save_pretrained(out_dir)
    summary = {"family": family, "objective": cfg.objective, "size": cfg.size, "steps": cfg.steps,
               "wall_seconds": time.time() - t_start, "config": dataclasses.asdict(cfg),
               "parameters": sum(p.numel() for p in objective.backbone.parameters()), "n_items": len(sampler.items),
               "history": history}
    (out_dir / "pretraining.json").write_text(json.dumps(summary, indent=1))
    return summary


# The runs of notebook 02b: the plain baseline of each family, and the teacher-guided candidates the probe
# chooses from (two sizes of distillation for Wav2Vec2, the ensemble member; HuBERT's own second iteration).
# What a step of each costs on the machine that ran it: notebook 02b's runs table (minutes for its steps).
RUNS = (("wav2vec2", "ssl", "compact"), ("wav2vec2", "distill", "compact"), ("wav2vec2", "distill", "large"),
        ("hubert", "ssl", "compact"), ("hubert", "teacher_kmeans", "compact"))


def pretrain_runs(runs, items, audio, pretrained_dir, cfg: PretrainConfig, progress: bool = True) -> dict:
    """Every (family, objective, size) of ``runs`` with ``cfg``'s budget, each on the same seeded crops of the
    teacher's ``items`` (``audio(row, version)`` loads one). Saves ``<pretrained_dir>/<family>-<objective>-<size>/``;
    returns {run name: summary}."""
    out = {}
    for family, objective, size in runs:
        name = run_name(family, objective, size)
        sampler = PatchCropSampler(items, audio, cfg.patches, cfg.batch_size, seed=cfg.seed)
        run_cfg = dataclasses.replace(cfg, objective=objective, size=size)
        out[name] = pretrain(family, sampler, Path(pretrained_dir) / name, run_cfg, progress)
    return out


def runs_table(summaries: dict):
    """One row per run: steps, wall time, parameters, loss at the start and the end."""
    import pandas as pd
    return pd.DataFrame([{"run": name, "steps": s["steps"], "minutes": s["wall_seconds"] / 60,
                          "parameters (M)": s["parameters"] / 1e6,
                          "loss, first 20 steps": np.mean([h["loss"] for h in s["history"][:20]]),
                          "loss, last 20 steps": np.mean([h["loss"] for h in s["history"][-20:]])}
                         for name, s in summaries.items()]).set_index("run")
