"""YAMNet (AudioSet, 521 classes), the study's first member, one concern a module as in tensorflow/models' yamnet:
`params` (parameters, architecture, weight sources), `features` (waveform -> log-mel patches), `model` (the network
with its real weights, cached trunk activations, zero-shot, embeddings, sanity check), `finetuning` (two-stage
fine-tuning, the classifier, its saved form) and `tf_runtime` (TensorFlow, imported once, quiet).

May import: `config`, `data`, `training`. The names below are the member's public face (``yamnet.finetune``,
``yamnet.load_yamnet``, ...). They load on first use (PEP 562): importing TensorFlow takes seconds and hundreds of MB,
and `params` (a plain dataclass the hand-made log-mel features of `data.features` share) must not pull it in.
"""
from __future__ import annotations

import importlib

_WHERE = {
    "features": ("log_mel_patches", "pad_waveform"),
    "finetuning": ("FinetuneConfig", "SavedYamnetClassifier", "YamnetClassifier", "finetune", "seed_spread"),
    "model": ("EVIDENCE_CLASSES", "ZERO_SHOT_MAP", "HubYamnet", "Yamnet", "build_top", "build_trunk", "clip_embeddings",
              "clip_evidence", "embeddings_of", "evidence_features", "load_yamnet", "patch_evidence", "read_class_names",
              "sanity_check", "sanity_inputs", "trunk_cache", "zero_shot", "zero_shot_proba"),
    "params": ("EMBEDDING_SIZE", "LOCAL_WEIGHTS_DIR", "PARAMS", "TFHUB_HANDLE", "YamnetParams"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
