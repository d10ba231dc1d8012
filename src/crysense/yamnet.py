"""YAMNet (AudioSet, 521 classes): load real weights, embed, zero-shot, fine-tune, save, predict.

The network is built here following tensorflow/models research/audioset/yamnet (log-mel 96x64 patches,
MobileNetV1, 521 sigmoid outputs) with the upstream layer names, so the official ``yamnet.h5`` loads by name.
Online users can pass the TF Hub handle instead (``load_yamnet(source=TFHUB_HANDLE)``).

It is cut in two so fine-tuning is cheap on a CPU: the *trunk* (blocks 1..14-k, always frozen) runs once
per clip and its output is cached; the *top* (the last k blocks, global average pooling) can be
fine-tuned. BatchNorm stays frozen everywhere: the shipped weights have BN folded into the convolutions.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from tf_keras import layers  # noqa: E402

from .clipcache import ClipCache  # noqa: E402
from .config import REPO_ROOT  # noqa: E402
from .training import class_balanced_weights, fit, weighted_nll  # noqa: E402
from .trainset import TrainSet  # noqa: E402

# every fine-tuned classifier compiles its own steps, so leave-one-source-out's dozens of classifiers would each
# log a "retracing" warning that says nothing useful
tf.get_logger().setLevel("ERROR")

TFHUB_HANDLE = "https://tfhub.dev/google/yamnet/1"
LOCAL_WEIGHTS_DIR = Path(os.environ.get("CRYSENSE_YAMNET_WEIGHTS") or REPO_ROOT.parent / "shared" / "weights" / "yamnet")


@dataclasses.dataclass(frozen=True)
class YamnetParams:
    """Upstream YAMNet hyper-parameters (the ones the weights were trained with)."""

    sample_rate: int = 16_000
    stft_window_seconds: float = 0.025
    stft_hop_seconds: float = 0.010
    mel_bands: int = 64
    mel_min_hz: float = 125.0
    mel_max_hz: float = 7500.0
    log_offset: float = 0.001
    patch_window_seconds: float = 0.96
    patch_hop_seconds: float = 0.48
    num_classes: int = 521
    batchnorm_epsilon: float = 1e-4

    @property
    def patch_frames(self) -> int:
        return int(round(self.patch_window_seconds / self.stft_hop_seconds))


PARAMS = YamnetParams()

# (kind, stride, filters) of the 14 blocks; all kernels 3x3
BLOCKS = [("conv", 2, 32), ("sep", 1, 64), ("sep", 2, 128), ("sep", 1, 128), ("sep", 2, 256), ("sep", 1, 256),
          ("sep", 2, 512), ("sep", 1, 512), ("sep", 1, 512), ("sep", 1, 512), ("sep", 1, 512), ("sep", 1, 512),
          ("sep", 2, 1024), ("sep", 1, 1024)]
EMBEDDING_SIZE = 1024


# --- features (waveform -> log-mel patches) ---------------------------------------------------------

def pad_waveform(waveform: tf.Tensor, p: YamnetParams = PARAMS) -> tf.Tensor:
    """Zero-pad the end so the waveform yields a whole number of patches (at least one)."""
    min_seconds = p.patch_window_seconds + p.stft_window_seconds - p.stft_hop_seconds
    min_n = tf.cast(min_seconds * p.sample_rate, tf.int32)
    n = tf.shape(waveform)[-1]
    padding = tf.maximum(0, min_n - n)
    n = tf.maximum(n, min_n)
    hop = tf.cast(p.patch_hop_seconds * p.sample_rate, tf.int32)
    hops = tf.cast(tf.math.ceil(tf.cast(n - min_n, tf.float32) / tf.cast(hop, tf.float32)), tf.int32)
    padding += hop * hops - (n - min_n)
    return tf.pad(waveform, [[0, padding]])


def log_mel_patches(waveform: tf.Tensor, p: YamnetParams = PARAMS):
    """1-D waveform (16 kHz) -> (log-mel spectrogram [frames, 64], patches [n, 96, 64])."""
    win = int(round(p.sample_rate * p.stft_window_seconds))
    hop = int(round(p.sample_rate * p.stft_hop_seconds))
    fft = 2 ** int(np.ceil(np.log2(win)))
    magnitude = tf.abs(tf.signal.stft(waveform, frame_length=win, frame_step=hop, fft_length=fft))
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(p.mel_bands, fft // 2 + 1, p.sample_rate,
                                                       p.mel_min_hz, p.mel_max_hz)
    log_mel = tf.math.log(tf.matmul(magnitude, mel_matrix) + p.log_offset)
    patch_hop = int(round(p.patch_hop_seconds / p.stft_hop_seconds))
    patches = tf.signal.frame(log_mel, p.patch_frames, patch_hop, axis=-2)
    return log_mel, patches


# --- the network --------------------------------------------------------------------------------------

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
        from .audio import file_sha256
        self.weights_id = file_sha256(weights)[:12]   # keys the trunk cache: other weights, other cache
        self.class_names = read_class_names(Path(weights).parent / "yamnet_class_map.csv")
        self._trunk_fn = tf.function(self._trunk_call, input_signature=[tf.TensorSpec([None], tf.float32)],
                                     reduce_retracing=True)
        self._top_fn = tf.function(self._top_call, reduce_retracing=True,
                                   input_signature=[tf.TensorSpec([None, *trunk_output_shape(top_blocks, p)], tf.float32)])
        self._clip_fn = tf.function(self._clip_call, input_signature=[
            tf.TensorSpec([None, *trunk_output_shape(top_blocks, p)], tf.float32), tf.TensorSpec([None], tf.int32)])

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

    def clip_outputs(self, acts_list, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Per clip, from cached trunk activations: (mean embedding [B, 1024], mean AudioSet scores [B, 521])."""
        embs, scores = [], []
        for i in range(0, len(acts_list), batch):
            flat, seg = _flatten([np.asarray(a, np.float32) for a in acts_list[i:i + batch]])
            e, s = self._clip_fn(tf.constant(flat), tf.constant(seg))
            embs.append(e.numpy())
            scores.append(s.numpy())
        if not embs:
            return np.zeros((0, EMBEDDING_SIZE), np.float32), np.zeros((0, self.p.num_classes), np.float32)
        return np.concatenate(embs), np.concatenate(scores)

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


# --- cached trunk activations ---------------------------------------------------------------------------

def trunk_cache(model: Yamnet, cache_dir) -> ClipCache:
    """Frozen trunk output of each clip version (float16), cached by clip sha256, version and weights."""
    return ClipCache(cache_dir, f"yamnet/trunk_top{model.top_blocks}_{model.weights_id}", model.trunk_activations)


# --- fine-tuning ------------------------------------------------------------------------------------------

@dataclasses.dataclass
class FinetuneConfig:
    top_blocks: int = 2              # blocks fine-tuned in stage 2 (BN stays frozen)
    head_epochs: int = 200           # stage 1: new 3-class head on frozen pooled embeddings
    head_lr: float = 1e-3
    head_patience: int = 15
    finetune_epochs: int = 12        # stage 2: top blocks + head, lower learning rate
    finetune_lr: float = 1e-4
    finetune_patience: int = 3
    batch_size: int = 32
    dropout: float = 0.3
    seed: int = 0

    @classmethod
    def smoke(cls) -> "FinetuneConfig":
        return cls(head_epochs=5, head_patience=2, finetune_epochs=1, finetune_patience=1)


def _flatten(acts_list) -> tuple[np.ndarray, np.ndarray]:
    """Ragged per-clip activations -> (all patches [N, h, w, c], clip index of each patch [N])."""
    sizes = [len(a) for a in acts_list]
    return np.concatenate(acts_list), np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)


class YamnetClassifier:
    """Fine-tuned YAMNet: trunk (frozen) -> top (maybe fine-tuned) -> mean over patches -> 3-class head."""

    def __init__(self, base: Yamnet, labels, dropout: float = 0.0):
        self.base = base
        self.labels = list(labels)
        # its own copy of the top blocks, so fine-tuning never changes the pretrained network other models share
        self.top = build_top(base.top_blocks, base.p)
        self.top.set_weights(base.top.get_weights())
        self.head = keras.Sequential([layers.Dropout(dropout), layers.Dense(len(self.labels))], name="head")
        self.head.build((None, EMBEDDING_SIZE))
        acts = tf.TensorSpec([None, *trunk_output_shape(base.top_blocks, base.p)], tf.float32)
        seg = tf.TensorSpec([None], tf.int32)
        self._pooled_fn = tf.function(self._pooled, input_signature=[acts, seg])
        self._logits_fn = tf.function(lambda a, s: self.head(self._pooled(a, s), training=False),
                                      input_signature=[acts, seg])

    def _pooled(self, flat, seg):
        emb, _ = self.top(flat, training=False)   # BN frozen (inference mode)
        return tf.math.segment_mean(emb, seg)

    def _batches(self, fn, acts_list, batch: int):
        out = [fn(*_flatten([np.asarray(a, np.float32) for a in acts_list[i:i + batch]])).numpy()
               for i in range(0, len(acts_list), batch)]
        return np.concatenate(out) if out else None

    def pooled_embeddings(self, acts_list, batch: int = 64) -> np.ndarray:
        """Clip embeddings [B, 1024]: the mean over each clip's patches."""
        out = self._batches(self._pooled_fn, acts_list, batch)
        return out if out is not None else np.zeros((0, EMBEDDING_SIZE), np.float32)

    def predict_acts(self, acts_list, batch: int = 64) -> np.ndarray:
        out = self._batches(self._logits_fn, acts_list, batch)
        return tf.nn.softmax(out).numpy() if out is not None else np.zeros((0, len(self.labels)))

    def predict_proba(self, waveform: np.ndarray) -> np.ndarray:
        return self.predict_acts([self.base.trunk_activations(waveform)])[0]

    # one Keras model: patches -> per-patch logits; the clip's logits are their mean (the head is linear)
    def export_model(self) -> keras.Model:
        inp = layers.Input((self.base.p.patch_frames, self.base.p.mel_bands), name="patches")
        emb, _ = self.top(self.base.trunk(inp))
        return keras.Model(inp, self.head.layers[-1](emb), name="yamnet_finetuned")

    def save(self, path) -> Path:
        import json
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.export_model().save(path)
        path.with_suffix(".json").write_text(json.dumps(
            {"labels": self.labels, "top_blocks": self.base.top_blocks, "params": dataclasses.asdict(self.base.p),
             "input": "log-mel patches [n, 96, 64] from crysense.yamnet.log_mel_patches of 16 kHz mono audio",
             "output": "per-patch logits; clip logits = mean over patches; probabilities = softmax"}, indent=1))
        return path


class SavedYamnetClassifier:
    """``models/yamnet_finetuned.h5`` reloaded with plain Keras: waveform -> class probabilities."""

    def __init__(self, path):
        import json
        path = Path(path)
        meta = json.loads(path.with_suffix(".json").read_text())
        self.labels = meta["labels"]
        self.p = YamnetParams(**meta["params"])
        self.model = keras.models.load_model(path, compile=False)
        self._fn = tf.function(self._call, input_signature=[tf.TensorSpec([None], tf.float32)], reduce_retracing=True)

    def _call(self, waveform):
        _, patches = log_mel_patches(pad_waveform(waveform, self.p), self.p)
        return tf.nn.softmax(tf.reduce_mean(self.model(patches, training=False), axis=0))

    def predict_proba(self, waveform: np.ndarray) -> np.ndarray:
        return self._fn(tf.constant(waveform, tf.float32)).numpy()


def _weighted_ce(logits, y, w):
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    return tf.reduce_sum(ce * w) / tf.reduce_sum(w)


def _pool_versions(clf: "YamnetClassifier", train: TrainSet) -> TrainSet:
    """The training set with every version's trunk activations replaced by its pooled embedding (frozen top)."""
    sizes = [len(v) for v in train.versions]
    flat = clf.pooled_embeddings([a for v in train.versions for a in v])
    return TrainSet([list(p) for p in np.split(flat, np.cumsum(sizes)[:-1])], train.y, train.weight)


def finetune(base: Yamnet, labels, train: TrainSet, val: dict, val_y: np.ndarray, val_w: np.ndarray | None = None,
             cfg: FinetuneConfig = FinetuneConfig(), progress: bool = True, pooled: tuple | None = None):
    """Two-stage fine-tuning with weighted cross-entropy and early stopping on the weighted validation loss.

    ``train``: trunk activations of every version of every training clip, labels and loss weights
    (`crysense.trainset`); each epoch trains on one version per clip, drawn at random.
    ``val``: {'orig': [acts per clip], optionally 'bl4k': [...]}; ``val_w``: validation loss weights
    (default: class-balanced). Stage 1 trains a new head on the frozen pooled embeddings; stage 2 unfreezes the
    top blocks and is kept only if it lowers the validation loss. Train steps are compiled (tf.function).
    ``pooled``: (train, val) as above but holding the frozen pooled embeddings (`clip_embeddings`), when the caller
    has them already (leave-one-source-out reuses them for every fold).
    Returns (classifier, history DataFrame with stage, epoch, losses and accuracies).
    """
    import pandas as pd

    tf.keras.utils.set_random_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    clf = YamnetClassifier(base, labels, cfg.dropout)
    val_w = class_balanced_weights(val_y, len(labels)) if val_w is None else np.asarray(val_w, float)
    history: list[dict] = []

    def evaluate(inputs: dict, proba_of):
        out = {}
        for variant in [v for v in ("orig", "bl4k") if v in inputs]:
            p = proba_of(inputs[variant])
            sfx = "" if variant == "orig" else f"_{variant}"
            out[f"val_loss{sfx}"] = weighted_nll(p, val_y, val_w)
            out[f"val_acc{sfx}"] = float(np.mean(p.argmax(1) == val_y))
        return out

    def make_step(forward, variables, lr):
        opt = keras.optimizers.Adam(lr)

        @tf.function(reduce_retracing=True)
        def step(inputs, y, w):
            with tf.GradientTape() as tape:
                logits = forward(*inputs)
                loss = _weighted_ce(logits, y, w)
            opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss, logits
        return step

    def epoch_loop(data: TrainSet, step, inputs_of):
        w = data.weight.astype(np.float32)

        def run_epoch(_):
            picked, order = data.pick(rng), rng.permutation(len(data))
            total, correct = 0.0, 0
            for i in range(0, len(order), cfg.batch_size):
                idx = order[i:i + cfg.batch_size]
                loss, logits = step(inputs_of([picked[j] for j in idx]), tf.constant(data.y[idx], tf.int32),
                                    tf.constant(w[idx]))
                total += float(loss) * float(w[idx].sum())
                correct += int(np.sum(np.argmax(logits, 1) == data.y[idx]))
            return {"train_loss": total / float(w.sum()), "train_acc": correct / len(data)}
        return run_epoch

    def stage(name, variables, step, data, inputs_of, val_inputs, proba_of, epochs, patience):
        return fit(epoch_loop(data, step, inputs_of), lambda: evaluate(val_inputs, proba_of),
                   lambda: [v.numpy() for v in variables], lambda s: [v.assign(x) for v, x in zip(variables, s)],
                   epochs, patience, f"YAMNet {name}", progress, history=history, extra={"stage": name})[1]

    # stage 1 sees the top frozen: every version's pooled embedding is computed once, not every epoch
    head_vars = clf.head.trainable_variables
    pooled_train, pooled_val = pooled or (_pool_versions(clf, train), {k: clf.pooled_embeddings(v) for k, v in val.items()})
    best_head = stage("head", head_vars, make_step(lambda x: clf.head(x, training=True), head_vars, cfg.head_lr),
                      pooled_train, lambda xs: (tf.constant(np.stack(xs)),), {k: np.stack(v) for k, v in pooled_val.items()},
                      lambda x: tf.nn.softmax(clf.head(x, training=False)).numpy(), cfg.head_epochs, cfg.head_patience)
    saved_top, saved_head = [v.numpy() for v in clf.top.weights], [v.numpy() for v in head_vars]
    top_vars = [v for v in clf.top.trainable_variables if "dense" not in v.name] + head_vars
    best_ft = np.inf
    if cfg.finetune_epochs:
        best_ft = stage("fine-tune", top_vars,
                        make_step(lambda a, s: clf.head(clf._pooled(a, s), training=True), top_vars, cfg.finetune_lr),
                        train, lambda xs: tuple(tf.constant(t) for t in _flatten([np.asarray(a, np.float32) for a in xs])),
                        val, clf.predict_acts, cfg.finetune_epochs, cfg.finetune_patience)
    kept = "fine-tune" if best_ft < best_head else "head"
    if kept == "head":   # unfreezing did not help validation: back to the frozen top + stage-1 head
        for v, w in zip(clf.top.weights, saved_top):
            v.assign(w)
        for v, w in zip(head_vars, saved_head):
            v.assign(w)
    hist = pd.DataFrame(history)
    hist.attrs.update(kept=kept, best_val_loss_head=best_head, best_val_loss_finetune=best_ft)
    return clf, hist


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
