"""AudioSet YAMNet as the teacher of the speech transformers' pretraining (notebook 02b).

Plain self-supervision on a few hours of audio teaches a transformer little (the in-domain wav2vec 2.0 scored
below its own random initialisation after fine-tuning). A teacher that learned AudioSet can pass on what it knows:

- **distillation** (DistilHuBERT's recipe): prediction heads on the student's last two transformer layers
  regress YAMNet's 1024-d patch embedding (L1 + cosine) and its 521 AudioSet scores (binary cross-entropy
  against the teacher's probabilities) for the same audio;
- **HuBERT, second iteration**: masked prediction of k-means cluster ids, with the clusters fitted on YAMNet's
  patch embeddings instead of MFCC frames.

Alignment. YAMNet patch ``j`` of a clip covers samples ``[7680 j, 7680 j + 15600)`` (0.975 s every 0.48 s); the
student's frame ``i`` (conv front-end: stride 320, receptive field 400) covers ``[320 i, 320 i + 400)``. A crop
that starts on a patch boundary and holds ``P`` patches (``7680 (P - 1) + 15600`` samples) has ``24 (P - 1) + 48``
frames, and patch ``j`` is exactly frames ``[24 j, 24 j + 48)``: pooling those frames gives the student's patch.

The teacher's outputs come from the YAMNet trunk cache of notebook 02 (every training clip as recorded and its
augmented views), so no teacher runs during pretraining.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from .inputs import normalise

PATCH_HOP = 7680          # samples between YAMNet patches (0.48 s)
PATCH_SPAN = 15600        # samples one patch sees (0.96 s of 10 ms STFT frames + the 25 ms window)
FRAMES_PER_HOP = 24       # student frames (20 ms) per patch hop
FRAMES_PER_PATCH = 48


def crop_samples(patches: int) -> int:
    """Length of a crop holding ``patches`` whole YAMNet patches."""
    return PATCH_HOP * (patches - 1) + PATCH_SPAN


@dataclasses.dataclass
class TeacherOutputs:
    """YAMNet's per-patch outputs for each (clip, version) a pretraining run may crop."""
    rows: list[dict]                 # manifest row of each item (for loading its audio)
    versions: list[str]
    embeddings: list[np.ndarray]     # [patches, 1024] float16
    scores: list[np.ndarray]         # [patches, 521] AudioSet probabilities, float16

    def __len__(self) -> int:
        return len(self.rows)

    def embedding_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-dimension mean and standard deviation over every patch: the student regresses standardised targets."""
        e = np.concatenate(self.embeddings).astype(np.float32)
        return e.mean(0), e.std(0) + 1e-3


def teacher_outputs(base, rows: pd.DataFrame, inputs: dict[str, dict[str, np.ndarray]], versions,
                    batch: int = 64) -> TeacherOutputs:
    """Per-patch embeddings and AudioSet scores of ``rows`` in each of ``versions``, from cached trunk activations
    (``inputs``: {version: {sha256: activations}}, `yamnet.trunk_cache(...).inputs`)."""
    from ..yamnet.model import flatten  # lazy: TensorFlow, only while the teacher's outputs are computed
    keys = [(r, v) for v in versions for r in rows.to_dict(orient="records")]
    embeddings, scores = [], []
    for i in range(0, len(keys), batch):
        acts = [np.asarray(inputs[v][r["sha256"]], np.float32) for r, v in keys[i:i + batch]]
        flat, seg = flatten(acts)
        e, s = base.embed_scores(flat)
        bounds = np.cumsum([len(a) for a in acts])[:-1]
        embeddings += [x.astype(np.float16) for x in np.split(e, bounds)]
        scores += [x.astype(np.float16) for x in np.split(s, bounds)]
    return TeacherOutputs([r for r, _ in keys], [v for _, v in keys], embeddings, scores)


class PatchCropSampler:
    """Batches of crops that start on a YAMNet patch boundary, with the teacher's targets for their patches.

    Each crop: an item (a training clip as recorded or one of its augmented views) drawn uniformly, a start patch
    drawn uniformly, ``patches`` patches of audio (zero-padded past the clip's end, as YAMNet pads), normalised per
    crop as the fine-tuned models normalise their input. ``audio(row, version)`` gives an item's waveform.
    """

    def __init__(self, items: TeacherOutputs, audio, patches: int, batch_size: int, seed: int = 0,
                 stats: tuple[np.ndarray, np.ndarray] | None = None):
        self.items, self.audio, self.patches, self.batch_size = items, audio, patches, batch_size
        self.n = crop_samples(patches)
        self.mean, self.std = stats if stats is not None else items.embedding_stats()
        self.rng = np.random.default_rng(seed)

    def batch(self) -> dict[str, np.ndarray]:
        B, P = self.batch_size, self.patches
        x = np.zeros((B, self.n), np.float32)
        emb = np.zeros((B, P, self.items.embeddings[0].shape[1]), np.float32)
        scores = np.zeros((B, P, self.items.scores[0].shape[1]), np.float32)
        valid = np.zeros((B, P), bool)
        for b, k in enumerate(self.rng.integers(0, len(self.items), B)):
            e, s = self.items.embeddings[k], self.items.scores[k]
            start = int(self.rng.integers(0, max(1, len(e) - P + 1)))
            wave = self.audio(self.items.rows[k], self.items.versions[k])[start * PATCH_HOP:start * PATCH_HOP + self.n]
            x[b, :len(wave)] = wave
            m = min(P, len(e) - start)
            emb[b, :m] = (e[start:start + m].astype(np.float32) - self.mean) / self.std
            scores[b, :m] = s[start:start + m]
            valid[b, :m] = True
        return {"x": normalise(x), "embedding": emb, "scores": scores, "valid": valid}


def patch_pool(hidden, patches: int):
    """Student frames [B, T, H] -> patches [B, P, H]: the mean over each patch's 48 frames."""
    return hidden[:, :FRAMES_PER_HOP * (patches - 1) + FRAMES_PER_PATCH].unfold(1, FRAMES_PER_PATCH, FRAMES_PER_HOP) \
        .mean(-1)[:, :patches]


def frame_targets(patch_ids: np.ndarray, n_frames: int) -> np.ndarray:
    """Per-patch cluster ids [B, P] -> per-frame ids [B, n_frames]: each frame takes the patch whose centre
    (frame 24 j + 24) is nearest (HuBERT's targets at the student's 20 ms rate)."""
    P = patch_ids.shape[1]
    j = np.clip(np.round((np.arange(n_frames) - FRAMES_PER_HOP) / FRAMES_PER_HOP).astype(int), 0, P - 1)
    return patch_ids[:, j]


def fit_patch_kmeans(items: TeacherOutputs, n_clusters: int, stats, max_patches: int = 60_000, seed: int = 0):
    """k-means on standardised teacher embeddings (HuBERT's second-iteration targets)."""
    from sklearn.cluster import MiniBatchKMeans
    e = np.concatenate(items.embeddings).astype(np.float32)
    if len(e) > max_patches:
        e = e[np.random.default_rng(seed).choice(len(e), max_patches, replace=False)]
    return MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, n_init=3, batch_size=4096).fit(
        (e - stats[0]) / stats[1])


def training_items(df: pd.DataFrame, clips, cache_dir, versions, progress: bool = True) -> TeacherOutputs:
    """The teacher's outputs for every training clip in each of ``versions`` (e.g. the study recipe's original and
    augmented views), from notebook 02's YAMNet trunk cache (computed here if missing). Train split only."""
    from ..yamnet.model import load_yamnet, trunk_cache  # lazy: TensorFlow, only while the teacher's outputs are computed
    base = load_yamnet(top_blocks=2)
    train = df[df["split"] == "train"]
    inputs = trunk_cache(base, cache_dir).inputs(train, clips, versions, progress)
    return teacher_outputs(base, train, inputs, versions)
