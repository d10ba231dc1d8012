"""Activities: the heavy side (decoding, models, storage). Run by the worker in a thread pool; the
classifier is loaded once per worker and shared."""
from __future__ import annotations

import numpy as np
from temporalio import activity
from temporalio.exceptions import ApplicationError

from crysense.audio import AUDIO, AudioError, check_clip, decode

from .notify import deliver
from .shared import BAD_AUDIO, AlertNotice, ChunkOutcome, ChunkRef, Classification, NotifyTargets
from .storage import AudioStore, ResultStore, result_row

MAX_CHUNK_S = 15.0


class ChunkActivities:
    def __init__(self, classifier, audio_store: AudioStore, result_store: ResultStore):
        self.classifier = classifier
        self.audio = audio_store
        self.results = result_store

    def _samples(self, key: str) -> np.ndarray:
        path = self.audio.path(key)
        if not path.exists():
            raise AudioError(key, "not in the audio store")
        if key.endswith(".f32"):
            return np.frombuffer(path.read_bytes(), np.float32).copy()
        return decode(path).samples   # any format, rate, channel count: decoded to 16 kHz mono

    @activity.defn(name="preprocess_chunk")
    def preprocess_chunk(self, ref: ChunkRef) -> ChunkRef:
        """Decode and validate (1-15 s, not near-silent); store the 16 kHz float32 samples; return their key."""
        activity.heartbeat("decoding")
        try:
            x = self._samples(ref.audio_key)
            check_clip(x, ref.audio_key, AUDIO, max_s=MAX_CHUNK_S)
        except AudioError as e:
            # bad audio will not get better by retrying: record it and let the stream go on
            raise ApplicationError(f"chunk {ref.index} of {ref.stream_id}: {e.reason}", type=BAD_AUDIO,
                                   non_retryable=True) from None
        return ChunkRef(ref.stream_id, ref.index, self.audio.put_samples(x), ref.start_s)

    @activity.defn(name="classify_chunk")
    def classify_chunk(self, ref: ChunkRef) -> Classification:
        x = self._samples(ref.audio_key)
        activity.heartbeat("classifying")
        r = self.classifier.classify(x)
        return Classification(r["label"], r["probabilities"], r["duration_s"], len(r["windows"]))

    @activity.defn(name="store_result")
    def store_result(self, ref: ChunkRef, outcome: ChunkOutcome) -> bool:
        """Idempotent: a retry of the same (stream, chunk) writes nothing new."""
        return self.results.put(result_row(ref.stream_id, ref.index, ref.audio_key, ref.start_s, outcome.label,
                                           outcome.probabilities, outcome.error, outcome.alert))

    @activity.defn(name="notify_alert")
    def notify_alert(self, notice: AlertNotice, targets: NotifyTargets) -> list[str]:
        """Send one alert event to the stream's webhook / MQTT broker; channels already delivered are skipped."""
        return deliver(notice, targets, self.results)

    def all(self) -> list:
        return [self.preprocess_chunk, self.classify_chunk, self.store_result, self.notify_alert]
