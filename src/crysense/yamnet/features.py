"""YAMNet's features: a 16 kHz waveform -> log-mel spectrogram -> 0.96 s patches (tensorflow/models' features.py)."""
from __future__ import annotations

import numpy as np

from .params import PARAMS, YamnetParams
from .tf_runtime import tf


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
