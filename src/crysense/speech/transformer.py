"""Fine-tuning Wav2Vec2 / HuBERT sequence classifiers on 2 CPU cores (shared by both families).

The convolutional front-end and the lower transformer layers stay frozen; their output (the input of the
first trained layer) is computed once per clip and cached, so an epoch only runs the top ``top_layers``
layers, the projector and the classifier. Training sees random 5 s crops of the cached states;
evaluation and the saved model see whole clips, as ``*ForSequenceClassification`` does (mean over frames).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..config import AUDIO, LABELS, get_paths
from ..data.clipcache import in_order
from ..training.loop import fit
from ..training.metrics import class_balanced_weights, weighted_nll
from ..training.trainset import TrainSet, run_data
from .backbones import compact_config, resolve_backbone
from .inputs import FRAME_RATE, model_input
from .linear_head import init_head_from_probe
from .states import base_of, predict_states, state_cache, top_logits


def classifier_class(family: str):
    from transformers import HubertForSequenceClassification, Wav2Vec2ForSequenceClassification
    return {"wav2vec2": Wav2Vec2ForSequenceClassification, "hubert": HubertForSequenceClassification}[family]


def load_classifier(family: str, labels=LABELS, source: str | None = None, random_init: bool = False,
                    size: str = "compact", seed: int = 0, run: str | None = None, like=None):
    """A sequence classifier over ``labels`` whose backbone comes from the configured source (hub id, local
    folder, the in-domain backbone chosen by notebook 02b, or the named pretraining ``run``), or is randomly
    initialised (the control): with the architecture of the model ``like`` if given, else of ``size``."""
    labels = list(labels)
    maps = dict(num_labels=len(labels), label2id={lab: i for i, lab in enumerate(labels)},
                id2label=dict(enumerate(labels)))
    torch.manual_seed(seed)
    if random_init:
        config = like.config.__class__(**{**like.config.to_dict(), **maps}) if like is not None else \
            compact_config(family, size, **maps)
        model = classifier_class(family)(config)
        model.config.crysense_backbone = f"random init ({like.config.crysense_backbone if like is not None else size})"
    else:
        where = resolve_backbone(family, source, run=run)
        model = classifier_class(family).from_pretrained(where, **maps)
        # reports name a local backbone relative to the output root ('models/pretrained/wav2vec2'), a hub id as is
        local, root = Path(where), get_paths().root
        model.config.crysense_backbone = str(local.relative_to(root)) if local.is_relative_to(root) else where
    model.freeze_feature_encoder()
    return model


@dataclasses.dataclass
class FinetuneConfig:
    top_layers: int = 1          # transformer layers fine-tuned (with projector + classifier); 1 won on validation
    epochs: int = 40
    patience: int = 5            # early stopping on validation loss; its curve is noisy: 3 stopped one run at epoch 4
    lr: float = 3e-5             # LP-FT: 3e-4 and 1e-4 undid the probe within an epoch (validation loss 0.54 -> 6.1, 3.4)
    weight_decay: float = 0.01
    batch_size: int = 16
    crop_s: float = 5.0          # training crop of the cached states
    head_init: str = "probe"     # 'probe': LP-FT (`linear_head`), the head starts as a fitted probe; 'random'
    dropout: float = 0.0         # in the trained layers: the probe head is fitted on dropout-free features
    seed: int = 0

    @classmethod
    def smoke(cls) -> "FinetuneConfig":
        return cls(epochs=2, patience=1, batch_size=8)


def trainable_parameters(model, top_layers: int) -> list[nn.Parameter]:
    for p in model.parameters():
        p.requires_grad = False
    layers = base_of(model).encoder.layers
    params = [p for layer in layers[len(layers) - top_layers:] for p in layer.parameters()]
    params += list(model.projector.parameters()) + list(model.classifier.parameters())
    for p in params:
        p.requires_grad = True
    return params


def set_dropout(model, top_layers: int, p: float) -> None:
    """Dropout probability of the trained layers (their ``nn.Dropout`` modules and the attention's own rate)."""
    layers = base_of(model).encoder.layers
    for layer in layers[len(layers) - top_layers:]:
        for m in layer.modules():
            if isinstance(m, nn.Dropout):
                m.p = p
            elif hasattr(m, "dropout") and isinstance(m.dropout, float):
                m.dropout = p


def _crop_batch(states: list[np.ndarray], n: int, rng) -> torch.Tensor:
    out = np.zeros((len(states), n, states[0].shape[1]), np.float32)
    for i, s in enumerate(states):
        if len(s) > n:
            a = rng.integers(0, len(s) - n + 1)
            s = s[a:a + n]
        out[i, : len(s)] = s
    return torch.from_numpy(out)


@torch.no_grad()
def predict_waveform(model, waveform: np.ndarray) -> np.ndarray:
    """Class probabilities of one clip through the whole saved model (what users run)."""
    model.eval()
    with torch.inference_mode():   # no autograd records: inference only
        logits = model(torch.from_numpy(model_input(waveform))[None]).logits
    return torch.softmax(logits, -1)[0].numpy()


def finetune(model, train: TrainSet, val: dict | None = None, val_y: np.ndarray | None = None,
             val_w: np.ndarray | None = None, cfg: FinetuneConfig = FinetuneConfig(), progress: bool = True,
             desc: str = "fine-tune", on_epoch=None) -> pd.DataFrame:
    """Train the top layers + head on cached states with weighted cross-entropy.

    ``train``: the states of every version of every training clip, labels and loss weights
    (`crysense.training.trainset`); each epoch trains on one version per clip, drawn at random, cropped to ``crop_s``.
    With ``val`` ({'orig': [...], optionally 'bl4k'}): early stopping on the weighted validation loss (``val_w``,
    default class-balanced), the best epoch's weights restored. Without: exactly ``cfg.epochs`` epochs.
    ``on_epoch(epoch, model)`` is called after every epoch (e.g. to score several epoch counts in one run).
    Returns the per-epoch history.
    """
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    if val is not None:
        val_w = class_balanced_weights(val_y, model.config.num_labels) if val_w is None else val_w
    if cfg.head_init not in ("probe", "random"):
        raise ValueError(f"head_init must be 'probe' or 'random', not {cfg.head_init!r}")
    head = {"init": cfg.head_init}
    if cfg.head_init == "probe":
        head.update(init_head_from_probe(model, train, cfg.top_layers, val and val["orig"], val_y, val_w, seed=cfg.seed))
    params = trainable_parameters(model, cfg.top_layers)
    set_dropout(model, cfg.top_layers, cfg.dropout)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    n_crop = int(cfg.crop_s * FRAME_RATE)
    weight = torch.tensor(train.weight, dtype=torch.float32)

    def run_epoch(epoch):
        model.train()
        picked, order = train.pick(rng), rng.permutation(len(train))
        total, correct = 0.0, 0
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            y, w = torch.from_numpy(train.y[idx]), weight[idx]
            logits = top_logits(model, _crop_batch([picked[j] for j in idx], n_crop, rng), cfg.top_layers)
            loss = (nn.functional.cross_entropy(logits, y, reduction="none") * w).sum() / w.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * float(w.sum())
            correct += int((logits.argmax(1) == y).sum())
        if on_epoch is not None:
            on_epoch(epoch, model)
        return {"train_loss": total / float(weight.sum()), "train_acc": correct / len(train)}

    def evaluate():
        out = {}
        for variant in [v for v in ("orig", "bl4k") if v in val]:
            p = predict_states(model, val[variant], cfg.top_layers)
            sfx = "" if variant == "orig" else f"_{variant}"
            out[f"val_loss{sfx}"], out[f"val_acc{sfx}"] = weighted_nll(p, val_y, val_w), float(np.mean(p.argmax(1) == val_y))
        return out

    history, _ = fit(run_epoch, evaluate if val is not None else None,
                     lambda: {k: v.detach().clone() for k, v in model.state_dict().items()}, model.load_state_dict,
                     cfg.epochs, cfg.patience, desc, progress, evaluate_first=cfg.head_init == "probe")
    model.eval()
    history = pd.DataFrame(history)
    if "val_loss" in history:
        head["best_epoch"] = int(history.loc[history["val_loss"].idxmin(), "epoch"])
    model.config.crysense_head = head   # saved with the model: how its head was initialised, which epoch was kept
    return history


def save_classifier(model, out_dir, extra: dict | None = None) -> Path:
    """``save_pretrained`` + the feature-extractor config, loadable with ``from_pretrained``."""
    import json

    from transformers import Wav2Vec2FeatureExtractor
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=AUDIO.sample_rate, padding_value=0.0, do_normalize=True,
                             return_attention_mask=False).save_pretrained(out_dir)
    if extra:
        (out_dir / "crysense_training.json").write_text(json.dumps(extra, indent=1, default=float))
    return out_dir


def load_finetuned(family: str, folder):
    model = classifier_class(family).from_pretrained(folder)
    model.eval()
    return model


def fit_recipe(model, df: pd.DataFrame, clips, rcp, labels, cfg: FinetuneConfig, views: int, cache_dir,
               desc: str = "fine-tune", progress: bool = True) -> dict:
    """Cache the frozen lower-layer states of every clip version, fine-tune ``model`` on recipe ``rcp``
    (`crysense.training.recipe`), predict validation and test clips (as recorded and band-limited).

    Returns {'history', 'proba': {(split, version): probabilities}, 'state_seconds', 'train_seconds'}."""
    import time

    t0 = time.time()
    inputs = state_cache(model, cfg.top_layers, cache_dir).inputs(df, clips, rcp.versions(views), progress)
    t_states = time.time() - t0
    data = run_data(df, rcp, inputs, labels, views)
    t0 = time.time()
    history = finetune(model, data.train, data.val, data.val_y, data.val_w, cfg, progress, desc)
    t_train = time.time() - t0
    proba = {(s, v): predict_states(model, in_order(inputs[v], df[df["split"] == s]), cfg.top_layers)
             for s in ("val", "test") for v in ("orig", "bl4k")}
    return {"history": history, "proba": proba, "state_seconds": t_states, "train_seconds": t_train}
