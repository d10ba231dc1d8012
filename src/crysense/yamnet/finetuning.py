"""Fine-tuning YAMNet for our three labels: a new head on the frozen pooled embeddings, then the top blocks; the
classifier it gives, its saved form, and that form reloaded with plain Keras (what inference uses)."""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np

from ..training.loop import fit
from ..training.metrics import class_balanced_weights, metrics, weighted_nll
from ..training.trainset import TrainSet
from .features import log_mel_patches, pad_waveform
from .model import Yamnet, build_top, flatten, trunk_output_shape
from .params import EMBEDDING_SIZE, YamnetParams
from .tf_runtime import keras, layers, tf


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
        out = [fn(*flatten([np.asarray(a, np.float32) for a in acts_list[i:i + batch]])).numpy()
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
        with warnings.catch_warnings():   # the saved file format (HDF5) is the study's on purpose: one portable file
            warnings.filterwarnings("ignore", message=r".*HDF5 file via `model.save\(\)`", category=UserWarning)
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
        self.top_blocks = meta["top_blocks"]
        self.model = keras.models.load_model(path, compile=False)
        self.trunk = self.model.get_layer("yamnet_trunk")   # frozen in fine-tuning: the AudioSet network's own
        self._fn = tf.function(self._call, input_signature=[tf.TensorSpec([None], tf.float32)], reduce_retracing=True)
        self._trunk_fn = tf.function(self._from_trunk, reduce_retracing=True,
                                     input_signature=[tf.TensorSpec([None, *self.trunk.output_shape[1:]], tf.float32)])

    def _call(self, waveform):
        _, patches = log_mel_patches(pad_waveform(waveform, self.p), self.p)
        return tf.nn.softmax(tf.reduce_mean(self.model(patches, training=False), axis=0))

    def _from_trunk(self, acts):
        emb, _ = self.model.get_layer("yamnet_top")(acts, training=False)
        return tf.nn.softmax(tf.reduce_mean(self.model.layers[-1](emb), axis=0))

    def predict_proba(self, waveform: np.ndarray) -> np.ndarray:
        return self._fn(tf.constant(waveform, tf.float32)).numpy()

    def predict_trunk(self, acts: np.ndarray) -> np.ndarray:
        """Probabilities from the frozen trunk's activations of a clip (``Yamnet.trunk_activations``)."""
        return self._trunk_fn(tf.constant(acts, tf.float32)).numpy()

    def shares_trunk_with(self, frozen) -> bool:
        """True when ``frozen`` (a local `Yamnet`) computes exactly this model's trunk: same split, features and
        weights, so one trunk pass can serve both."""
        return (getattr(frozen, "top_blocks", None) == self.top_blocks and getattr(frozen, "p", None) == self.p
                and all(np.array_equal(a, b) for a, b in zip(self.trunk.get_weights(), frozen.trunk.get_weights())))


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
    (`crysense.training.trainset`); each epoch trains on one version per clip, drawn at random.
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
                        train, lambda xs: tuple(tf.constant(t) for t in flatten([np.asarray(a, np.float32) for a in xs])),
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


def seed_spread(base: Yamnet, labels, run, scored: dict, cfg: FinetuneConfig, seeds, first=None,
                progress: bool = True):
    """The same fine-tuning (data ``run``, recipe, epochs) once per seed in ``seeds``: how far YAMNet's figures
    move with the seed alone. ``scored``: {split: (trunk activations per clip, labels)}; ``first``: the
    (classifier, history, seconds) of a run already made with ``seeds[0]``. One row per seed: macro-F1 per split,
    the kept stage, epochs and training seconds."""
    import time

    import pandas as pd

    rows = []
    for i, seed in enumerate(seeds):
        if i == 0 and first is not None:
            clf, hist, seconds = first
        else:
            t0 = time.time()
            clf, hist = finetune(base, labels, run.train, run.val, run.val_y, run.val_w,
                                 dataclasses.replace(cfg, seed=seed), progress=progress)
            seconds = time.time() - t0
        rows.append({"seed": seed, **{f"{s} macro-F1": metrics(y, clf.predict_acts(acts), labels)["macro_f1"]
                                      for s, (acts, y) in scored.items()},
                     "kept": hist.attrs["kept"], "epochs": len(hist), "train_seconds": seconds})
    return pd.DataFrame(rows).set_index("seed")
