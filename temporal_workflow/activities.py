"""Activities: the heavy side (decoding, models, storage). Run by the worker in a thread pool; the
classifier is loaded once per worker and shared.

One chunk is one short, idempotent activity, ``process_chunk``: decode, validate, classify, store the result row,
and (retention) delete the chunk's audio. The stream workflow runs it as a *local* activity (Temporal's advice for
short idempotent work: no task-queue round trip per chunk); if the worker dies, the workflow task is retried on
another worker within seconds and the activity runs again. A chunk whose result row exists already returns that
row, so a re-run never classifies twice, never writes twice, and never needs audio that retention removed.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
from temporalio import activity

from crysense.data.audio import AUDIO, AudioError, check_clip, decode
from crysense.serving import alerts

from .notify import deliver
from .shared import NOTIFY_ALERT, PROCESS_CHUNK, AlertNotice, ChunkOutcome, ChunkRef, ChunkTask, NotifyTargets
from .storage import AudioStore, ResultStore, result_row

MAX_CHUNK_S = 15.0


class ChunkActivities:
    def __init__(self, classifier, audio_store: AudioStore, result_store: ResultStore, delete_after_result: bool = True,
                 timings: list | None = None):
        self.classifier = classifier
        self.audio = audio_store
        self.results = result_store
        self.delete_after_result = delete_after_result   # retention: a chunk's audio goes once its result is stored
        self.timings = timings   # a list: one entry per processed chunk, where its time went (the benchmark's breakdown)

    def _samples(self, ref: ChunkRef) -> np.ndarray:
        if not self.audio.exists(ref.audio_key):
            raise AudioError(ref.name or ref.audio_key, "not in the audio store")
        if ref.audio_key.endswith(".f32"):
            return np.frombuffer(self.audio.get(ref.audio_key), np.float32).copy()
        with self.audio.local_file(ref.audio_key) as path:   # any format, rate, channel count
            return decode(path).samples

    @activity.defn(name=PROCESS_CHUNK)
    def process_chunk(self, task: ChunkTask) -> ChunkOutcome:
        """Decode and validate (1-15 s, not near-silent), classify, store the row (with the alert state this
        chunk leads to under the stream's rule), delete the audio. Bad audio is an outcome with an error (one log
        line), not a failure: it will not get better by retrying."""
        ref = task.ref
        t = {"stream_id": ref.stream_id, "index": ref.index, "started_at": time.time(), "t0": time.perf_counter()}
        stored = self.results.get(ref.stream_id, ref.index)
        if stored is not None:   # a re-run (worker died after storing): the stored outcome stands
            if self.delete_after_result:
                self.audio.delete(ref.audio_key)
            return ChunkOutcome(ref.index, ref.start_s, stored["label"] or "", _probabilities(stored),
                                stored["error"] or "", bool(stored["alert"]))
        try:
            x = self._samples(ref)
            check_clip(x, ref.name or ref.audio_key, AUDIO, max_s=MAX_CHUNK_S)
            t["audio"] = time.perf_counter()
        except AudioError as e:
            activity.logger.warning(f"chunk {ref.index} of {ref.stream_id} ({ref.name or ref.audio_key}): {e.reason}")
            outcome = ChunkOutcome(ref.index, ref.start_s, error=f"{ref.name or f'chunk {ref.index}'}: {e.reason}")
        else:
            r = self.classifier.classify(x)
            t["classify"] = time.perf_counter()
            outcome = ChunkOutcome(ref.index, ref.start_s, r["label"], r["probabilities"])
        if task.rule is not None and task.state is not None:   # the alert the workflow will compute from this outcome
            state = dataclasses.replace(task.state, recent=list(task.state.recent))
            alerts.step(task.rule, state, outcome.probabilities.get(task.rule.label) if not outcome.error else None,
                        outcome.start_s)
            outcome.alert = state.on
        self.results.put(result_row(ref.stream_id, ref.index, ref.audio_key, ref.start_s, outcome.label,
                                    outcome.probabilities, outcome.error, outcome.alert))
        if self.delete_after_result:
            self.audio.delete(ref.audio_key)
        if self.timings is not None and "classify" in t:
            self.timings.append(_split(t, time.perf_counter()))
        return outcome

    @activity.defn(name=NOTIFY_ALERT)
    def notify_alert(self, notice: AlertNotice, targets: NotifyTargets) -> list[str]:
        """Send one alert event to the stream's webhook / MQTT broker; channels already delivered are skipped."""
        return deliver(notice, targets, self.results)

    def all(self) -> list:
        return [self.process_chunk, self.notify_alert]


def _probabilities(row: dict) -> dict[str, float]:
    return {lab: row[f"p_{lab}"] for lab in ("crying", "screaming", "normal") if row.get(f"p_{lab}") is not None}


def _split(t: dict, end: float) -> dict:
    """Seconds of one chunk's activity: read + decode + validate, the models, the result row (+ retention)."""
    return {"stream_id": t["stream_id"], "index": t["index"], "started_at": t["started_at"],
            "audio_s": t["audio"] - t["t0"], "classify_s": t["classify"] - t["audio"], "store_s": end - t["classify"]}
