"""Cached frozen states of a Wav2Vec2 / HuBERT classifier: the input of its first trained layer, computed once per
clip version (``state_cache``) and keyed by the frozen weights (``backbone_tag``), and the top layers run on them
(``top_output``, ``top_logits``, ``predict_states``). Fine-tuning, the LP-FT head and leave-one-source-out share them."""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from ..data.clipcache import ClipCache
from .inputs import model_input


def base_of(model):
    return model.wav2vec2 if hasattr(model, "wav2vec2") else model.hubert


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


def top_output(model, h: torch.Tensor, top_layers: int) -> torch.Tensor:
    """The top ``top_layers`` layers run on cached states [batch, frames, hidden]."""
    layers = base_of(model).encoder.layers
    for layer in layers[len(layers) - top_layers:]:
        h = layer(h)
        h = h[0] if isinstance(h, tuple) else h
    return h


def top_logits(model, states: torch.Tensor, top_layers: int) -> torch.Tensor:
    """Top layers -> projector -> mean over frames -> classifier, as the HF forward does without a mask."""
    return model.classifier(model.projector(top_output(model, states, top_layers)).mean(dim=1))


def state_cache(model, top_layers: int, cache_dir) -> ClipCache:
    """Frozen lower-layer states of each clip version, cached by clip sha256, version and backbone. Float32: the
    probe head's standardisation magnified float16 rounding (saved model vs cached-state predictions 1.4e-4 apart)."""
    return ClipCache(cache_dir, f"speech_states/{backbone_tag(model, top_layers)}_f32",
                     lambda x: lower_states(model, x, top_layers), dtype=np.float32)


@torch.no_grad()
def predict_states(model, states: list[np.ndarray], top_layers: int) -> np.ndarray:
    """Class probabilities of whole clips from their cached states."""
    model.eval()
    out = [torch.softmax(top_logits(model, torch.from_numpy(np.asarray(s, np.float32))[None], top_layers), -1)[0].numpy()
           for s in states]
    return np.stack(out) if out else np.zeros((0, model.config.num_labels))
