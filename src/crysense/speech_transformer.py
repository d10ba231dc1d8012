"""Fine-tuning Wav2Vec2 / HuBERT sequence classifiers on 2 CPU cores (shared by both families).

The convolutional front-end and the lower transformer layers stay frozen; their output (the input of the
first trained layer) is computed once per clip and cached, so an epoch only runs the top ``top_layers``
layers, the projector and the classifier. Training sees random 5 s crops of the cached states;
evaluation and the saved model see whole clips, as ``*ForSequenceClassification`` does (mean over frames).
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from .audio import band_limit, pad_to
from .config import AUDIO, LABELS, get_paths
from .pretrain import compact_config, normalise, resolve_backbone

FRAME_RATE = 50   # frames per second after the conv front-end (stride 320 at 16 kHz)


def base_of(model):
    return model.wav2vec2 if hasattr(model, "wav2vec2") else model.hubert


def classifier_class(family: str):
    from transformers import HubertForSequenceClassification, Wav2Vec2ForSequenceClassification
    return {"wav2vec2": Wav2Vec2ForSequenceClassification, "hubert": HubertForSequenceClassification}[family]


def load_classifier(family: str, labels=LABELS, source: str | None = None, random_init: bool = False,
                    size: str = "compact", seed: int = 0):
    """A sequence classifier over ``labels`` whose backbone comes from the configured source
    (hub id, local folder, or the in-domain pretrained one), or is randomly initialised (the control)."""
    labels = list(labels)
    maps = dict(num_labels=len(labels), label2id={l: i for i, l in enumerate(labels)},
                id2label={i: l for i, l in enumerate(labels)})
    torch.manual_seed(seed)
    if random_init:
        model = classifier_class(family)(compact_config(family, size, **maps))
        model.config.crysense_backbone = f"random init ({size})"
    else:
        where = resolve_backbone(family, source)
        model = classifier_class(family).from_pretrained(where, **maps)
        # reports name a local backbone relative to the output root ('models/pretrained/wav2vec2'), a hub id as is
        local, root = Path(where), get_paths().root
        model.config.crysense_backbone = str(local.relative_to(root)) if local.is_relative_to(root) else where
    model.freeze_feature_encoder()
    return model


def backbone_tag(model, top_layers: int) -> str:
    """Identifies the frozen part (its weights) so cached states are never reused across backbones."""
    h = hashlib.sha256()
    base = base_of(model)
    first_trained = len(base.encoder.layers) - top_layers
    for name, p in base.state_dict().items():
        if not any(name.startswith(f"encoder.layers.{i}.") for i in range(first_trained, len(base.encoder.layers))):
            h.update(name.encode())
            h.update(p.detach().cpu().numpy().tobytes())
    return f"{type(model).__name__}_top{top_layers}_{h.hexdigest()[:16]}"


def model_input(x: np.ndarray) -> np.ndarray:
    """What the network sees: at least 5 s (zero-padded, centred), normalised per clip."""
    return normalise(pad_to(x, AUDIO.model_input_s)[None])[0]


@torch.no_grad()
def lower_states(model, waveform: np.ndarray, top_layers: int) -> np.ndarray:
    """Input of the first trained layer for one clip: [frames, hidden] (float32)."""
    base = base_of(model)
    layers = base.encoder.layers
    captured = {}

    class Captured(Exception):
        pass

    def capture(module, args, kwargs):
        captured["h"] = args[0] if args else kwargs["hidden_states"]
        raise Captured   # the layers above are not needed: stop the forward here

    hook = layers[len(layers) - top_layers].register_forward_pre_hook(capture, with_kwargs=True)
    was_training = model.training
    model.eval()
    try:
        base(torch.from_numpy(model_input(waveform))[None])
    except Captured:
        pass
    finally:
        hook.remove()
        model.train(was_training)
    return captured["h"][0].numpy().astype(np.float32)


def top_logits(model, states: torch.Tensor, top_layers: int) -> torch.Tensor:
    """Top layers -> projector -> mean over frames -> classifier, as the HF forward does without a mask."""
    layers = base_of(model).encoder.layers
    h = states
    for layer in layers[len(layers) - top_layers:]:
        h = layer(h)
        h = h[0] if isinstance(h, tuple) else h
    return model.classifier(model.projector(h).mean(dim=1))


class StateCache:
    """Frozen lower-layer states per clip, cached by clip sha256, variant and backbone tag."""

    def __init__(self, model, top_layers: int, cache_dir):
        self.model, self.top_layers = model, top_layers
        self.dir = Path(cache_dir) / "speech_states" / backbone_tag(model, top_layers)

    def get(self, df: pd.DataFrame, loader, variant: str = "orig", progress: bool = True) -> list[np.ndarray]:
        from tqdm import tqdm
        d = self.dir / variant
        d.mkdir(parents=True, exist_ok=True)
        out = []
        for _, row in tqdm(df.iterrows(), total=len(df), desc=f"frozen states ({variant})", disable=not progress):
            f = d / f"{row['sha256']}.npy"
            if f.exists():
                out.append(np.load(f))
                continue
            x = loader.load_row(row)
            s = lower_states(self.model, band_limit(x) if variant == "bl4k" else x, self.top_layers)
            np.save(f, s)
            out.append(s)
        return out


def split_states(model, top_layers: int, df, loader, cache_dir, splits=("train", "val", "test"),
                 progress: bool = True) -> dict:
    """{(split, variant): [states per clip, manifest order]} for 'orig' and 'bl4k' audio."""
    cache = StateCache(model, top_layers, cache_dir)
    return {(s, v): cache.get(df[df["split"] == s], loader, v, progress) for v in ("orig", "bl4k") for s in splits}


@dataclasses.dataclass
class FinetuneConfig:
    top_layers: int = 1          # transformer layers fine-tuned (with projector + classifier); 1 won on validation
    epochs: int = 40
    patience: int = 5            # early stopping on validation loss
    lr: float = 3e-4
    weight_decay: float = 0.01
    batch_size: int = 16
    crop_s: float = 5.0          # training crop of the cached states
    band_limit_prob: float = 0.5
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


def _crop_batch(states: list[np.ndarray], n: int, rng) -> torch.Tensor:
    out = np.zeros((len(states), n, states[0].shape[1]), np.float32)
    for i, s in enumerate(states):
        if len(s) > n:
            a = rng.integers(0, len(s) - n + 1)
            s = s[a:a + n]
        out[i, : len(s)] = s
    return torch.from_numpy(out)


@torch.no_grad()
def predict_states(model, states: list[np.ndarray], top_layers: int) -> np.ndarray:
    """Class probabilities of whole clips from their cached states."""
    model.eval()
    out = [torch.softmax(top_logits(model, torch.from_numpy(s)[None], top_layers), -1)[0].numpy() for s in states]
    return np.stack(out) if out else np.zeros((0, model.config.num_labels))


@torch.no_grad()
def predict_waveform(model, waveform: np.ndarray) -> np.ndarray:
    """Class probabilities of one clip through the whole saved model (what users run)."""
    model.eval()
    logits = model(torch.from_numpy(model_input(waveform))[None]).logits
    return torch.softmax(logits, -1)[0].numpy()


def class_weights(y: np.ndarray, n: int) -> torch.Tensor:
    counts = np.bincount(y, minlength=n).astype(float)
    return torch.tensor(len(y) / (n * np.clip(counts, 1, None)), dtype=torch.float32)


def finetune(model, train_states: dict, y_train: np.ndarray, val_states: dict | None = None,
             y_val: np.ndarray | None = None, cfg: FinetuneConfig = FinetuneConfig(), progress: bool = True,
             desc: str = "fine-tune", on_epoch=None) -> pd.DataFrame:
    """Train the top layers + head on cached states (class-weighted CE).

    ``*_states``: {'orig': [...], 'bl4k': [...]} per clip ('bl4k' only needed if ``band_limit_prob`` > 0).
    With validation states: early stopping on validation loss, the best epoch's weights restored in place.
    Without: exactly ``cfg.epochs`` epochs (a refit with hyper-parameters chosen elsewhere).
    ``on_epoch(epoch, model)`` is called after every epoch (e.g. to score several epoch counts in one run).
    Returns the per-epoch history.
    """
    from tqdm import tqdm
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    params = trainable_parameters(model, cfg.top_layers)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = nn.CrossEntropyLoss(weight=class_weights(y_train, model.config.num_labels))
    n_crop = int(cfg.crop_s * FRAME_RATE)
    history, best, bad = [], (np.inf, None), 0

    def val_loss(variant):
        p = predict_states(model, val_states[variant], cfg.top_layers)
        logp = torch.log(torch.from_numpy(np.clip(p, 1e-9, 1)))
        return float(nn.functional.nll_loss(logp, torch.from_numpy(y_val), weight=loss_fn.weight)), \
            float(np.mean(p.argmax(1) == y_val))

    for epoch in tqdm(range(cfg.epochs), desc=desc, disable=not progress):
        model.train()
        order = rng.permutation(len(y_train))
        use_bl = rng.random(len(y_train)) < cfg.band_limit_prob
        total, correct = 0.0, 0
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            x = _crop_batch([train_states["bl4k" if use_bl[j] else "orig"][j] for j in idx], n_crop, rng)
            y = torch.from_numpy(y_train[idx])
            logits = top_logits(model, x, cfg.top_layers)
            loss = loss_fn(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += int((logits.argmax(1) == y).sum())
        row = {"epoch": epoch + 1, "train_loss": total / len(order), "train_acc": correct / len(order)}
        if on_epoch is not None:
            on_epoch(epoch + 1, model)
        if val_states is None:
            history.append(row)
            continue
        for variant in [v for v in ("orig", "bl4k") if v in val_states]:
            suffix = "" if variant == "orig" else f"_{variant}"
            row[f"val_loss{suffix}"], row[f"val_acc{suffix}"] = val_loss(variant)
        history.append(row)
        vl = row["val_loss"]
        if vl < best[0] - 1e-4:
            best, bad = (vl, {k: v.detach().clone() for k, v in model.state_dict().items()}), 0
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    if best[1] is not None:
        model.load_state_dict(best[1])
    model.eval()
    return pd.DataFrame(history)


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
