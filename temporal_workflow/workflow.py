"""Workflows: classify one clip, and classify a live stream chunk by chunk with a debounced alert.

Workflow code stays deterministic and light: no model, numpy or file access here (activities do that); payloads
carry audio by reference. A chunk is one local activity (decode, validate, classify, store: `activities`), so the
per-chunk path costs one workflow task, not a task-queue round trip per step.
"""
from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from crysense.serving import alerts

    from .shared import (
        NOTIFY_ALERT,
        PROCESS_CHUNK,
        AlertNotice,
        ChunkOutcome,
        ChunkRef,
        ChunkTask,
        NotifyTargets,
        StreamState,
        StreamSummary,
    )

# a chunk's work takes well under a second; a transient failure (a busy database) is retried with backoff
CHUNK_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                          maximum_interval=timedelta(seconds=10), maximum_attempts=10)
CHUNK_TIMEOUT = timedelta(seconds=30)
# a notification keeps trying (backoff up to a minute) for as long as a carer could still use it
NOTIFY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                           maximum_interval=timedelta(seconds=60), maximum_attempts=0)
NOTIFY_GIVE_UP = timedelta(hours=1)


async def process_chunk(task: ChunkTask) -> ChunkOutcome:
    """Decode, validate, classify and store one chunk (bad audio comes back as an outcome with an error)."""
    return await workflow.execute_local_activity(PROCESS_CHUNK, task, result_type=ChunkOutcome,
                                                 start_to_close_timeout=CHUNK_TIMEOUT, retry_policy=CHUNK_RETRY)


@workflow.defn
class ClassifyClipWorkflow:
    """One clip: receive -> preprocess -> classify -> store."""

    @workflow.run
    async def run(self, ref: ChunkRef) -> ChunkOutcome:
        return await process_chunk(ChunkTask(ref))


@workflow.defn
class StreamWorkflow:
    """A long-running stream: chunks arrive by signal (``add_chunk``), are classified in order, stored, and
    feed a debounced alert. ``status`` answers queries; ``end_stream`` finishes it. Before its history grows
    large it continues as new, carrying its state (pending chunks included)."""

    @workflow.init
    def __init__(self, state: StreamState) -> None:
        self.state = state

    @workflow.run
    async def run(self, state: StreamState) -> StreamSummary:
        s = self.state
        done_this_run = 0
        while True:
            if not (s.pending or s.ended):
                try:   # a client that vanished sends nothing more: after the idle timeout the stream ends itself
                    await workflow.wait_condition(lambda: bool(s.pending) or s.ended, timeout=timedelta(
                        seconds=s.idle_timeout_s) if s.idle_timeout_s else None)
                except asyncio.TimeoutError:
                    s.ended = s.ended_idle = True
            if not s.pending:
                break
            ref = s.pending[0]
            outcome = await process_chunk(ChunkTask(ref, s.alert_params, s.alert_state))
            event = self._update(outcome)
            if event is not None:
                await self._notify(event)
            s.pending.pop(0)
            done_this_run += 1
            if done_this_run >= s.max_chunks_per_run or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                s.runs += 1
                workflow.continue_as_new(args=[s])
        if (event := alerts.finish(s.alert_state, s.last_start_s)) is not None:   # the stream ended mid-alert
            s.alert_events.append({"index": s.last_index, "start_s": event.time_s, "alert": False, "p": None,
                                   "reason": event.reason})
            s.alert = False
            await self._notify(event)
        if s.notifier_started:
            await workflow.get_external_workflow_handle(self._notifier_id()).signal(NotifierWorkflow.close)
        return StreamSummary(s.stream_id, s.processed, s.errors, s.label_counts, s.alert_events, s.runs)

    def _notifier_id(self) -> str:
        return f"notify-{self.state.stream_id}"

    async def _notify(self, event: alerts.AlertEvent) -> None:
        """Hand the event to the stream's notifier workflow (started at the first event): delivery, with its
        retries, runs there, so a webhook or broker that is down never holds up the next chunk."""
        s = self.state
        if not s.notify:
            return
        notice = AlertNotice(s.stream_id, f"{s.stream_id}:{len(s.alert_events)}", "alert on" if event.on else "alert off",
                             event.time_s, event.p, event.reason)
        if not s.notifier_started:
            s.notifier_started = True
            try:
                await workflow.start_child_workflow(NotifierWorkflow.run, args=[s.notify, [notice]],
                                                    id=self._notifier_id(), parent_close_policy=ParentClosePolicy.ABANDON)
                return
            except WorkflowAlreadyStartedError:   # an earlier stream of this id still has deliveries pending
                pass
        await workflow.get_external_workflow_handle(self._notifier_id()).signal(NotifierWorkflow.add, notice)

    def _update(self, outcome: ChunkOutcome) -> alerts.AlertEvent | None:
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
        return event

    @workflow.signal
    def add_chunk(self, ref: ChunkRef) -> None:
        # chunks arrive in order; a repeated signal (a client retry) is ignored
        if ref.index > self.state.last_index:
            self.state.pending.append(ref)
            self.state.last_index, self.state.last_received_s = ref.index, ref.start_s

    @workflow.signal
    def end_stream(self) -> None:
        self.state.ended = True

    @workflow.query
    def status(self) -> StreamState:
        return self.state


@workflow.defn
class NotifierWorkflow:
    """Delivers one stream's alert events in order (a retained MQTT state must end as the alert did), each with
    retries and backoff; the stream workflow signals new events and ``close`` when it ends."""

    @workflow.init
    def __init__(self, targets: NotifyTargets, queue: list[AlertNotice]) -> None:
        self.queue = list(queue)
        self.closed = False

    @workflow.run
    async def run(self, targets: NotifyTargets, queue: list[AlertNotice]) -> int:
        sent = 0
        while True:
            await workflow.wait_condition(lambda: bool(self.queue) or self.closed)
            if not self.queue:
                return sent
            try:
                await workflow.execute_activity(NOTIFY_ALERT, args=[self.queue[0], targets], result_type=list[str],
                                                retry_policy=NOTIFY_RETRY, start_to_close_timeout=timedelta(seconds=30),
                                                schedule_to_close_timeout=NOTIFY_GIVE_UP)
                sent += 1
            except ActivityError:
                workflow.logger.warning(f"gave up notifying {self.queue[0].event_id} after {NOTIFY_GIVE_UP}")
            self.queue.pop(0)
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(args=[targets, self.queue])

    @workflow.signal
    def add(self, notice: AlertNotice) -> None:
        self.queue.append(notice)

    @workflow.signal
    def close(self) -> None:
        self.closed = True
