"""YAMNet (AudioSet, 521 classes), the study's first member: what notebooks and other modules use, in one name.

Each concern has its own module, as in tensorflow/models' yamnet: `yamnet_params` (parameters, architecture,
weight sources), `yamnet_features` (waveform -> log-mel patches), `yamnet_model` (the network with its real
weights, cached trunk activations, zero-shot, embeddings, sanity check) and `yamnet_finetune` (two-stage
fine-tuning, the classifier, its saved form).
"""
from .yamnet_features import log_mel_patches, pad_waveform
from .yamnet_finetune import FinetuneConfig, SavedYamnetClassifier, YamnetClassifier, finetune, seed_spread
from .yamnet_model import (
    EVIDENCE_CLASSES,
    HubYamnet,
    Yamnet,
    build_top,
    build_trunk,
    clip_embeddings,
    clip_evidence,
    embeddings_of,
    evidence_features,
    load_yamnet,
    patch_evidence,
    read_class_names,
    sanity_check,
    sanity_inputs,
    trunk_cache,
    zero_shot,
    zero_shot_proba,
)
from .yamnet_params import EMBEDDING_SIZE, LOCAL_WEIGHTS_DIR, PARAMS, TFHUB_HANDLE, YamnetParams

__all__ = ["EMBEDDING_SIZE", "EVIDENCE_CLASSES", "LOCAL_WEIGHTS_DIR", "PARAMS", "TFHUB_HANDLE", "FinetuneConfig", "HubYamnet",
           "SavedYamnetClassifier", "Yamnet", "YamnetClassifier", "YamnetParams", "build_top", "build_trunk",
           "clip_embeddings", "clip_evidence", "embeddings_of", "evidence_features", "finetune", "load_yamnet",
           "log_mel_patches", "pad_waveform", "patch_evidence", "read_class_names", "sanity_check", "sanity_inputs",
           "seed_spread", "trunk_cache", "zero_shot", "zero_shot_proba"]
