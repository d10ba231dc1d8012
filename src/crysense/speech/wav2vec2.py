"""Wav2Vec2 for cry / scream / normal: the family-specific names around `transformer` and `states`.

Backbone (`backbones.resolve_backbone`): ``facebook/wav2vec2-base`` online, the in-domain pretrained
compact model offline. See `transformer` for how fine-tuning stays cheap on 2 CPU cores.
"""
from __future__ import annotations

from functools import partial

from . import states
from . import transformer as st
from .backbones import ablation_runs

FAMILY = "wav2vec2"

load_classifier = partial(st.load_classifier, FAMILY)
load_finetuned = partial(st.load_finetuned, FAMILY)
FinetuneConfig = st.FinetuneConfig
finetune = st.finetune
state_cache = states.state_cache
predict_states = states.predict_states
predict_waveform = st.predict_waveform
save_classifier = st.save_classifier
fit_recipe = st.fit_recipe


def ablation_models(labels, chosen, source: str, paths=None, seed: int = 0) -> dict:
    """The chosen classifier's architecture from its other initialisations, for the ablation: the plain
    self-supervised and the best teacher-guided pretraining runs (when the chosen backbone is our own pretraining,
    each unless it is the chosen one), and a random initialisation."""
    runs = ablation_runs(FAMILY, paths) if source == "pretrain" else {}
    models = {name: load_classifier(labels, run=run, seed=seed) for name, run in runs.items()}
    models["random init"] = load_classifier(labels, random_init=True, like=chosen, seed=seed)
    return models
