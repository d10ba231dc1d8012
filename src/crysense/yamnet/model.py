"""The YAMNet network with its real AudioSet weights (local file or TF Hub), cut in two so fine-tuning is cheap on a
CPU: the *trunk* (blocks 1..14-k, always frozen) runs once per clip and its output is cached; the *top* (the last k
blocks, global average pooling) can be fine-tuned. BatchNorm stays frozen everywhere: the shipped weights have BN
folded into the convolutions. Also what is read from the frozen network: the zero-shot baseline, clip embeddings
and the sanity check on known inputs.

The network follows tensorflow/models research/audioset/yamnet (log-mel 96x64 patches, MobileNetV1, 521 sigmoid
outputs) with the upstream layer names, so the official ``yamnet.h5`` loads by name. Online users can pass the TF
Hub handle instead (``load_yamnet(source=TFHUB_HANDLE)``).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data.audio import file_sha256
from ..data.clipcache import ClipCache
from .features import log_mel_patches, pad_waveform
from .params import BLOCKS, EMBEDDING_SIZE, LOCAL_WEIGHTS_DIR, PARAMS, TFHUB_HANDLE, YamnetParams
from .tf_runtime import keras, layers, tf


def flatten(acts_list) -> tuple[np.ndarray, np.ndarray]:
    """Ragged per-clip activations -> (all patches [N, h, w, c], clip index of each patch [N])."""
    sizes = [len(a) for a in acts_list]
    return np.concatenate(acts_list), np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)


def _bn(name, p):
    # center only (no scale), as upstream; frozen: folded weights are exact in inference mode
    return layers.BatchNormalization(name=name, center=True, scale=False, epsilon=p.batchnorm_epsilon,
                                     trainable=False)


def _block(x, i: int, kind: str, stride: int, filters: int, p: YamnetParams):
    name = f"layer{i}"
    if kind == "conv":
        x = layers.Conv2D(filters, 3, stride, padding="same", use_bias=False, name=f"{name}/conv")(x)
        x = _bn(f"{name}/conv/bn", p)(x)
        return layers.ReLU(name=f"{name}/relu")(x)
    x = layers.DepthwiseConv2D(3, stride, padding="same", use_bias=False, name=f"{name}/depthwise_conv")(x)
    x = _bn(f"{name}/depthwise_conv/bn", p)(x)
    x = layers.ReLU(name=f"{name}/depthwise_conv/relu")(x)
    x = layers.Conv2D(filters, 1, 1, padding="same", use_bias=False, name=f"{name}/pointwise_conv")(x)
    x = _bn(f"{name}/pointwise_conv/bn", p)(x)
    return layers.ReLU(name=f"{name}/pointwise_conv/relu")(x)


def trunk_output_shape(top_blocks: int, p: YamnetParams = PARAMS) -> tuple[int, int, int]:
    h, w = p.patch_frames, p.mel_bands
    for _, stride, filters in BLOCKS[: len(BLOCKS) - top_blocks]:
        h, w, c = -(-h // stride), -(-w // stride), filters
    return h, w, c


def build_trunk(top_blocks: int, p: YamnetParams = PARAMS) -> keras.Model:
    """Patches [n, 96, 64] -> activations after block 14-top_blocks."""
    inp = layers.Input((p.patch_frames, p.mel_bands), name="patches")
    x = layers.Reshape((p.patch_frames, p.mel_bands, 1))(inp)
    for i, (kind, stride, filters) in enumerate(BLOCKS[: len(BLOCKS) - top_blocks], start=1):
        x = _block(x, i, kind, stride, filters, p)
    return keras.Model(inp, x, name="yamnet_trunk")


def build_top(top_blocks: int, p: YamnetParams = PARAMS) -> keras.Model:
    """Trunk activations -> (1024-d embedding, 521 AudioSet logits) per patch."""
    inp = layers.Input(trunk_output_shape(top_blocks, p), name="trunk_out")
    x = inp
    first = len(BLOCKS) - top_blocks + 1
    for i, (kind, stride, filters) in enumerate(BLOCKS[first - 1:], start=first):
        x = _block(x, i, kind, stride, filters, p)
    emb = layers.GlobalAveragePooling2D(name="embedding")(x)
    logits = layers.Dense(p.num_classes, name="dense")(emb)
    return keras.Model(inp, [emb, logits], name="yamnet_top")


class Yamnet:
    """The pretrained network, as trunk + top, with batch-friendly compiled calls."""

    def __init__(self, weights: str | os.PathLike | None = None, top_blocks: int = 2, p: YamnetParams = PARAMS):
        self.p = p
        self.top_blocks = top_blocks
        self.trunk = build_trunk(top_blocks, p)
        self.top = build_top(top_blocks, p)
        weights = Path(weights or LOCAL_WEIGHTS_DIR / "yamnet.h5")
        if not weights.exists():
            raise FileNotFoundError(f"YAMNet weights not found at {weights}: set CRYSENSE_YAMNET_WEIGHTS or use "
                                    f"load_yamnet(source='{TFHUB_HANDLE}') online")
        for m in (self.trunk, self.top):
            m.load_weights(str(weights), by_name=True, skip_mismatch=False)
        self.weights_id = file_sha256(weights)[:12]   # keys the trunk cache: other weights, other cache
        self.class_names = read_class_names(Path(weights).parent / "yamnet_class_map.csv")
        self._trunk_fn = tf.function(self._trunk_call, input_signature=[tf.TensorSpec([None], tf.float32)],
                                     reduce_retracing=True)
        self._top_fn = tf.function(self._top_call, reduce_retracing=True,
                                   input_signature=[tf.TensorSpec([None, *trunk_output_shape(top_blocks, p)], tf.float32)])
        clip_signature = [tf.TensorSpec([None, *trunk_output_shape(top_blocks, p)], tf.float32),
                          tf.TensorSpec([None], tf.int32)]
        self._clip_fn = tf.function(self._clip_call, input_signature=clip_signature)
        self._clip_stats_fn = tf.function(self._clip_stats_call, input_signature=clip_signature)

    def _trunk_call(self, waveform):
        _, patches = log_mel_patches(pad_waveform(waveform, self.p), self.p)
        return self.trunk(patches, training=False)

    def _top_call(self, acts):
        emb, logits = self.top(acts, training=False)
        return emb, tf.sigmoid(logits)

    def trunk_activations(self, waveform: np.ndarray) -> np.ndarray:
        """[n_patches, h, w, c] trunk output of one clip (any length; short ones are padded)."""
        return self._trunk_fn(tf.constant(waveform, tf.float32)).numpy()

    def embed_scores(self, acts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        emb, scores = self._top_fn(tf.constant(acts, tf.float32))
        return emb.numpy(), scores.numpy()

    def frames(self, waveform: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-patch (embeddings [n, 1024], AudioSet scores [n, 521]) of a 16 kHz waveform."""
        return self.embed_scores(self.trunk_activations(waveform))

    def _per_clip(self, fn, acts_list, batch: int, widths: tuple) -> tuple:
        parts = [[] for _ in widths]
        for i in range(0, len(acts_list), batch):
            flat, seg = flatten([np.asarray(a, np.float32) for a in acts_list[i:i + batch]])
            for part, out in zip(parts, fn(tf.constant(flat), tf.constant(seg))):
                part.append(out.numpy())
        return tuple(np.concatenate(p) if p else np.zeros((0, w), np.float32) for p, w in zip(parts, widths))

    def clip_outputs(self, acts_list, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Per clip, from cached trunk activations: (mean embedding [B, 1024], mean AudioSet scores [B, 521])."""
        return self._per_clip(self._clip_fn, acts_list, batch, (EMBEDDING_SIZE, self.p.num_classes))

    def clip_max_scores(self, acts_list, batch: int = 64) -> np.ndarray:
        """Per clip, each AudioSet class's highest score over the clip's 0.96 s patches [B, 521]: a sound heard
        anywhere in the clip, however short (the mean of ``clip_outputs`` dilutes it by the clip's length)."""
        return self.clip_score_stats(acts_list, batch)[1]

    def clip_score_stats(self, acts_list, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Per clip, each AudioSet class's (mean, highest) score over the clip's patches: ([B, 521], [B, 521])."""
        return self._per_clip(self._clip_stats_fn, acts_list, batch, (self.p.num_classes, self.p.num_classes))

    def _clip_stats_call(self, flat, seg):
        scores = tf.sigmoid(self.top(flat, training=False)[1])
        return tf.math.segment_mean(scores, seg), tf.math.segment_max(scores, seg)

    def _clip_call(self, flat, seg):
        emb, logits = self.top(flat, training=False)
        return tf.math.segment_mean(emb, seg), tf.math.segment_mean(tf.sigmoid(logits), seg)


def read_class_names(class_map_csv) -> list[str]:
    import csv
    with open(class_map_csv, newline="") as f:
        return [row["display_name"] for row in csv.DictReader(f)]


class HubYamnet:
    """The TF Hub model, for users online: same ``frames`` interface (no trunk/top split)."""

    def __init__(self, handle: str = TFHUB_HANDLE):
        import tensorflow_hub as hub
        self.model = hub.load(handle)
        self.class_names = read_class_names(self.model.class_map_path().numpy().decode())

    def frames(self, waveform):
        scores, emb, _ = self.model(tf.constant(waveform, tf.float32))
        return emb.numpy(), scores.numpy()


def load_yamnet(source: str | None = None, top_blocks: int = 2):
    """``source``: a TF Hub handle (online), a local weights file or folder, or None for the local default."""
    source = source or os.environ.get("CRYSENSE_YAMNET_SOURCE")
    if source and str(source).startswith(("http://", "https://")):
        return HubYamnet(source)
    if source and Path(source).is_dir():
        source = Path(source) / "yamnet.h5"
    return Yamnet(source, top_blocks=top_blocks)


# --- zero-shot baseline: AudioSet classes -> our three labels ----------------------------------------

ZERO_SHOT_MAP = {
    "crying": ("Baby cry, infant cry", "Crying, sobbing", "Whimper"),
    "screaming": ("Screaming", "Yell"),
}


def zero_shot_proba(clip_scores: np.ndarray, class_names: list[str], labels=("crying", "screaming", "normal")):
    """Mean AudioSet scores of a clip [n, 521] -> probabilities over ``labels``.

    A label's score is the highest score of its AudioSet classes; ``normal`` is the highest score of
    every other class (speech, music, noise, ...). The three are normalised to sum to one.
    """
    clip_scores = np.atleast_2d(clip_scores)
    idx = {lab: [class_names.index(c) for c in names] for lab, names in ZERO_SHOT_MAP.items()}
    taken = {i for v in idx.values() for i in v}
    idx["normal"] = [i for i in range(len(class_names)) if i not in taken]
    s = np.stack([clip_scores[:, idx[lab]].max(axis=1) for lab in labels], axis=1)
    return s / np.clip(s.sum(axis=1, keepdims=True), 1e-9, None)


# --- AudioSet evidence: the zero-shot map's classes as the features of a small classifier ----------------

EVIDENCE_CLASSES = ZERO_SHOT_MAP["crying"] + ZERO_SHOT_MAP["screaming"]


def evidence_features(mean_scores: np.ndarray, max_scores: np.ndarray, class_names: list[str]) -> np.ndarray:
    """[B, 2k] log-odds of the AudioSet cry and scream classes (``EVIDENCE_CLASSES``), each as the clip's mean
    and its highest patch. Ten numbers that name what is heard, learnt from AudioSet's two million clips, so a
    classifier on them has little room to learn our corpora's microphones and rooms."""
    cols = [class_names.index(c) for c in EVIDENCE_CLASSES]
    p = np.clip(np.concatenate([np.atleast_2d(mean_scores)[:, cols], np.atleast_2d(max_scores)[:, cols]], axis=1),
                1e-4, 1 - 1e-4)
    return np.log(p / (1 - p)).astype(np.float32)


def patch_evidence(patch_scores: np.ndarray, class_names: list[str]) -> np.ndarray:
    """``evidence_features`` of one clip from its per-patch AudioSet scores [n, 521] -> [2k]."""
    return evidence_features(patch_scores.mean(0), patch_scores.max(0), class_names)[0]


def clip_evidence(base: "Yamnet", inputs: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, np.ndarray]]:
    """``evidence_features`` of every clip version in ``inputs`` ({version: {sha256: trunk activations}})."""
    out = {}
    for version, acts in inputs.items():
        keys = list(acts)
        out[version] = dict(zip(keys, evidence_features(*base.clip_score_stats([acts[k] for k in keys]), base.class_names)))
    return out


# --- cached trunk activations ---------------------------------------------------------------------------


def trunk_cache(model: Yamnet, cache_dir) -> ClipCache:
    """Frozen trunk output of each clip version (float16), cached by clip sha256, version and weights."""
    return ClipCache(cache_dir, f"yamnet/trunk_top{model.top_blocks}_{model.weights_id}", model.trunk_activations)


# --- study helpers (notebook 02) -------------------------------------------------------------------------


def sanity_inputs(sr: int = PARAMS.sample_rate) -> dict[str, tuple[np.ndarray, str]]:
    """Known inputs and the AudioSet class each should bring to the top (loose: within the top k)."""
    import soundfile as sf
    t = np.arange(3 * sr) / sr
    inputs = {
        "silence (zeros)": (np.zeros(3 * sr, np.float32), "Silence"),
        "440 Hz sine": ((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), "Sine wave"),
        "white noise": ((0.1 * np.random.default_rng(0).standard_normal(3 * sr)).astype(np.float32), "White noise"),
    }
    for name, expected in (("miaow_16k.wav", "Cat"), ("speech_whistling2.wav", "Speech")):
        path = LOCAL_WEIGHTS_DIR / "test_wavs" / name
        if path.exists():
            x, _ = sf.read(str(path), dtype="float32")
            inputs[name] = (x, expected)
    return inputs


def sanity_check(model, k: int = 10):
    """Top AudioSet classes of the model on known inputs, and the rank of the expected class."""
    import pandas as pd
    rows = []
    for name, (x, expected) in sanity_inputs().items():
        _, scores = model.frames(x)
        mean = scores.mean(axis=0)
        order = list(np.argsort(-mean))
        rank = order.index(model.class_names.index(expected)) + 1
        rows.append({"input": name, "expected": expected, "rank of expected": rank, f"in top {k}": rank <= k,
                     "top 3": ", ".join(f"{model.class_names[i]} {mean[i]:.2f}" for i in order[:3])})
    return pd.DataFrame(rows)


def zero_shot(base: Yamnet, acts: dict, labels) -> dict:
    """Zero-shot probabilities per key (e.g. (split, version)) from the pretrained AudioSet head."""
    return {key: zero_shot_proba(base.clip_outputs(clips)[1], base.class_names, labels) for key, clips in acts.items()}


def clip_embeddings(base: Yamnet, inputs: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, np.ndarray]]:
    """Frozen AudioSet YAMNet embedding (mean over patches, 1024-d) of every clip version in ``inputs``
    ({version: {sha256: trunk activations}}), same layout."""
    out = {}
    for version, acts in inputs.items():
        keys = list(acts)
        out[version] = dict(zip(keys, base.clip_outputs([acts[k] for k in keys])[0]))
    return out


def embeddings_of(base: Yamnet, rows, clips, cache_dir, version: str = "orig", progress: bool = True) -> np.ndarray:
    """Frozen AudioSet YAMNet embeddings [n, 1024] of ``rows`` (one version), in row order, from the trunk cache."""
    acts = trunk_cache(base, cache_dir).get(rows, version, clips, progress)
    return base.clip_outputs([acts[s] for s in rows["sha256"]])[0]
