"""Workflows: classify one clip, and classify a live stream chunk by chunk with a debounced alert.

Workflow code stays deterministic and light: no model, numpy or file access here (activities do that);
activities are called by name, payloads carry audio by reference.
"""
from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from crysense import alerts

    from .shared import BAD_AUDIO, ChunkOutcome, ChunkRef, Classification, StreamState, StreamSummary

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=10), maximum_attempts=6,
                    non_retryable_error_types=[BAD_AUDIO])


def _bad_audio(err: ActivityError) -> str | None:
    cause = err.cause
    return cause.message if isinstance(cause, ApplicationError) and cause.type == BAD_AUDIO else None


async def process_chunk(ref: ChunkRef, heartbeat_s: float) -> ChunkOutcome:
    """receive (the ref) -> preprocess -> classify; bad audio becomes an outcome with an error, not a failure."""
    try:
        pcm = await workflow.execute_activity("preprocess_chunk", ref, result_type=ChunkRef, retry_policy=RETRY,
                                              start_to_close_timeout=timedelta(seconds=60),
                                              heartbeat_timeout=timedelta(seconds=heartbeat_s))
        c = await workflow.execute_activity("classify_chunk", pcm, result_type=Classification, retry_policy=RETRY,
                                            start_to_close_timeout=timedelta(seconds=120),
                                            heartbeat_timeout=timedelta(seconds=heartbeat_s))
        return ChunkOutcome(ref.index, ref.start_s, c.label, c.probabilities)
    except ActivityError as e:
        reason = _bad_audio(e)
        if reason is None:
            raise
        return ChunkOutcome(ref.index, ref.start_s, error=reason)


async def store(ref: ChunkRef, outcome: ChunkOutcome) -> None:
    await workflow.execute_activity("store_result", args=[ref, outcome], retry_policy=RETRY,
                                    start_to_close_timeout=timedelta(seconds=30))


@workflow.defn
class ClassifyClipWorkflow:
    """One clip: receive -> preprocess -> classify -> store."""

    @workflow.run
    async def run(self, ref: ChunkRef) -> ChunkOutcome:
        outcome = await process_chunk(ref, heartbeat_s=30.0)
        await store(ref, outcome)
        return outcome


@workflow.defn
class StreamWorkflow:
    """A long-running stream: chunks arrive by signal (``add_chunk``), are classified in order, stored, and
    feed a debounced alert. ``status`` answers queries; ``end_stream`` finishes it. Before its history grows
    large it continues as new, carrying its state (pending chunks included)."""

    @workflow.init
    def __init__(self, state: StreamState, heartbeat_s: float = 20.0) -> None:
        self.state = state
        self.heartbeat_s = heartbeat_s

    @workflow.run
    async def run(self, state: StreamState, heartbeat_s: float = 20.0) -> StreamSummary:
        s = self.state
        done_this_run = 0
        while True:
            await workflow.wait_condition(lambda: bool(s.pending) or s.ended)
            if not s.pending:
                break
            ref = s.pending[0]
            outcome = await process_chunk(ref, self.heartbeat_s)
            self._update(outcome)
            await store(ref, outcome)
            s.pending.pop(0)
            done_this_run += 1
            if done_this_run >= s.max_chunks_per_run or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                s.runs += 1
                workflow.continue_as_new(args=[s, self.heartbeat_s])
        if (event := alerts.finish(s.alert_state, s.last_start_s)) is not None:   # the stream ended mid-alert
            s.alert_events.append({"index": s.last_index, "start_s": event.time_s, "alert": False, "p": None,
                                   "reason": event.reason})
            s.alert = False
        return StreamSummary(s.stream_id, s.processed, s.errors, s.label_counts, s.alert_events, s.runs)

    def _update(self, outcome: ChunkOutcome) -> None:
        s, rule = self.state, self.state.alert_params
        s.processed += 1
        s.errors += bool(outcome.error)
        if outcome.label:
            s.label_counts[outcome.label] = s.label_counts.get(outcome.label, 0) + 1
        p = outcome.probabilities.get(rule.label) if not outcome.error else None
        event = alerts.step(rule, s.alert_state, p, outcome.start_s)
        s.last_start_s = outcome.start_s
        if event is not None:
            s.alert_events.append({"index": outcome.index, "start_s": outcome.start_s, "alert": event.on,
                                   "p": event.p, "reason": event.reason})
        s.alert = outcome.alert = s.alert_state.on

    @workflow.signal
    def add_chunk(self, ref: ChunkRef) -> None:
        # chunks arrive in order; a repeated signal (a client retry) is ignored
        if ref.index > self.state.last_index:
            self.state.pending.append(ref)
            self.state.last_index = ref.index

    @workflow.signal
    def end_stream(self) -> None:
        self.state.ended = True

    @workflow.query
    def status(self) -> StreamState:
        return self.state
