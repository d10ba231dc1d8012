"""Where the Wav2Vec2 / HuBERT backbones come from, and the sizes the study builds.

One switch decides the source (``backbone_source``; ``CRYSENSE_BACKBONE``): ``"hub"`` (the hub ids, for users
online), ``"pretrain"`` (pretrained here by notebook 02b, the default offline), or a local folder holding
``wav2vec2/`` and ``hubert/`` (``save_pretrained`` folders).

Notebook 02b saves every backbone it pretrains as ``models/pretrained/<family>-<objective>-<size>/`` and copies the
one chosen on validation to ``models/pretrained/<family>/``, the folder the fine-tuning notebooks load by default;
``run=...`` loads another (e.g. the plain self-supervised baseline of the ablation).
"""
from __future__ import annotations

import os
from pathlib import Path

from ..config import get_paths

HUB_IDS = {"wav2vec2": "facebook/wav2vec2-base", "hubert": "ntu-spml/distilhubert"}
FAMILIES = tuple(HUB_IDS)

# transformer sizes for 2 CPU cores. The conv front-end keeps wav2vec2-base's geometry (20 ms frames, 25 ms
# receptive field) with 128 channels instead of 512: the front-end is most of a CPU training step.
SIZES = {
    "compact": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
                    conv_dim=(128,) * 7, num_conv_pos_embeddings=64, num_conv_pos_embedding_groups=16),
    "large": dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=6, intermediate_size=1536,
                  conv_dim=(128,) * 7, num_conv_pos_embeddings=64, num_conv_pos_embedding_groups=16),
    "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                 conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4),
}


def backbone_source(source: str | None = None) -> str:
    return source or os.environ.get("CRYSENSE_BACKBONE") or "pretrain"


def run_name(family: str, objective: str, size: str) -> str:
    """The folder name of one pretraining run under ``models/pretrained/``."""
    return f"{family}-{objective}-{size}"


def resolve_backbone(family: str, source: str | None = None, paths=None, run: str | None = None) -> str:
    """What to pass to ``from_pretrained`` for ``family`` under the configured source. ``run``: a named
    pretraining run (``run_name``) instead of the chosen backbone; only with the ``pretrain`` source."""
    source = backbone_source(source)
    paths = paths or get_paths()
    if source == "hub":
        if run:
            raise ValueError(f"run {run!r} names a backbone pretrained here; the hub source has only {HUB_IDS[family]}")
        return HUB_IDS[family]
    if source == "pretrain":
        folder = paths.models / "pretrained" / (run or family)
    else:
        folder = Path(source) / (run or family)
    if not (folder / "config.json").exists():
        hint = "run notebooks/02b_pretraining.ipynb (./run_all.sh)" if source == "pretrain" else "check the folder"
        raise FileNotFoundError(f"no {family} backbone at {folder}: {hint}")
    return str(folder)


def compact_config(family: str, size: str = "compact", **overrides):
    """A ``Wav2Vec2Config`` / ``HubertConfig`` of one of ``SIZES`` (classification head settings included)."""
    from transformers import HubertConfig, Wav2Vec2Config

    dims = SIZES[size]
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


def model_class(family: str):
    from transformers import HubertModel, Wav2Vec2Model
    return {"wav2vec2": Wav2Vec2Model, "hubert": HubertModel}[family]


def random_backbone(family: str, size: str = "compact", seed: int = 0):
    """The architecture, randomly initialised: the control of the linear probe and of fine-tuning."""
    import torch
    torch.manual_seed(seed)
    return model_class(family)(compact_config(family, size))


def load_backbone(family: str, where: str):
    return model_class(family).from_pretrained(where)


def plain_run(family: str, paths=None) -> str | None:
    """The plain self-supervised run notebook 02b saved for ``family`` (the ablation's baseline), if any."""
    paths = paths or get_paths()
    found = sorted(p.name for p in (paths.models / "pretrained").glob(f"{family}-ssl-*") if (p / "config.json").exists())
    return found[0] if found else None


def chosen_run(family: str, paths=None) -> str | None:
    """The pretraining run notebook 02b installed as ``family``'s backbone, if it recorded one."""
    f = (paths or get_paths()).models / "pretrained" / family / "chosen_run.txt"
    return f.read_text().strip() if f.exists() else None


TEACHER_OBJECTIVES = ("distill", "teacher_kmeans")


def ablation_runs(family: str, paths=None) -> dict[str, str]:
    """The pretraining runs a fine-tuning ablation compares with the chosen backbone: the plain self-supervised one
    and the best teacher-guided one on 02b's validation probe, each unless it is the chosen backbone itself."""
    import json
    paths = paths or get_paths()
    chosen, out = chosen_run(family, paths), {}
    plain = plain_run(family, paths)
    if plain and plain != chosen:
        out["plain SSL"] = plain
    probed = paths.models / "pretrained" / family / "probe.json"
    teacher = [r for r in (json.loads(probed.read_text()) if probed.exists() else [])
               if r.get("objective") in TEACHER_OBJECTIVES and r.get("run")]
    if teacher:
        # the backbone rule itself (its ties too), restricted to teacher-guided runs
        best = choose(teacher, family, TEACHER_OBJECTIVES)["run"]
        if best != chosen:
            out["teacher-guided"] = best
    return out


def choose(probe_rows: list[dict], family: str, objectives=("distill", "teacher_kmeans", "ssl")) -> dict:
    """The rule, fixed before the runs of notebook 02b: of ``family``'s pretrained backbones, the best validation
    probe macro-F1 (ties: the smaller model, then the earlier objective, teacher-guided first). Plain
    self-supervision competes too: a teacher-guided backbone is chosen only if it beats the baseline."""
    rows = [r for r in probe_rows if r["family"] == family and r.get("objective") in objectives]
    if not rows:
        raise ValueError(f"no pretrained {family} backbone was probed")
    size_rank = {s: i for i, s in enumerate(("tiny", "compact", "large"))}
    order = {o: i for i, o in enumerate(objectives)}
    return max(rows, key=lambda r: (round(r["val_macro_f1"], 4), -size_rank[r["size"]], -order[r["objective"]]))
