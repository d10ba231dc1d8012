"""Payloads and names shared by workflows, activities, worker and client. No heavy imports: workflow code
imports this module inside Temporal's sandbox."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from crysense.serving.alerts import AlertRule, AlertState

TASK_QUEUE = "crysense"
# activity names, one place for the worker's definitions and the workflows' calls
PROCESS_CHUNK = "process_chunk"
NOTIFY_ALERT = "notify_alert"
DEFAULT_ADDRESS = os.environ.get("CRYSENSE_TEMPORAL_ADDRESS", "127.0.0.1:7233")


@dataclass
class ChunkRef:
    """A chunk of audio by reference (claim check): the samples live in the audio store under ``audio_key``."""
    stream_id: str
    index: int
    audio_key: str
    start_s: float = 0.0
    name: str = ""           # what the user called it (a file name), for error messages


@dataclass
class ChunkTask:
    """One chunk to process, with the stream's alert rule and state before it (None for a single clip)."""
    ref: ChunkRef
    rule: AlertRule | None = None
    state: AlertState | None = None


@dataclass
class Classification:
    label: str
    probabilities: dict[str, float]
    duration_s: float
    windows: int = 1


@dataclass
class ChunkOutcome:
    index: int
    start_s: float
    label: str = ""                  # empty when the chunk was bad audio
    probabilities: dict[str, float] = field(default_factory=dict)
    error: str = ""
    alert: bool = False


# The alert rule of `crysense.serving.alerts` (pure dataclasses, safe in the workflow sandbox): on when n of the last m
# chunks reach the p(crying) threshold, off when none do, a minimum gap between alerts. One implementation for
# the workflow, the CLI and the study's streaming evaluation.
AlertParams = AlertRule


@dataclass
class NotifyTargets:
    """Where a stream's alert events go: a webhook URL (HTTP POST of JSON) and/or an MQTT URL
    ``mqtt://host:port/topic-prefix``; empty: nowhere."""
    webhook: str = ""
    mqtt: str = ""

    def __bool__(self) -> bool:
        return bool(self.webhook or self.mqtt)


@dataclass
class AlertNotice:
    """One alert event as it is sent: ``event_id`` is unique per stream and event, for receivers to deduplicate."""
    stream_id: str
    event_id: str
    event: str                   # "alert on" | "alert off"
    time_s: float                # stream time of the window that switched the alert
    p_crying: float | None
    reason: str


@dataclass
class StreamState:
    """Everything a stream workflow carries across continue-as-new."""
    stream_id: str
    alert_params: AlertRule = field(default_factory=AlertRule)
    pending: list[ChunkRef] = field(default_factory=list)
    last_index: int = -1                                     # highest chunk index received (order check)
    last_received_s: float = -1.0                            # stream time of that chunk (a resumed client goes on)
    processed: int = 0
    errors: int = 0
    alert_state: AlertState = field(default_factory=AlertState)
    last_start_s: float = 0.0                                # stream time of the last processed chunk
    notify: NotifyTargets = field(default_factory=NotifyTargets)
    notifier_started: bool = False                           # the stream's NotifierWorkflow runs
    alert: bool = False
    alert_events: list[dict] = field(default_factory=list)   # {"index", "start_s", "alert", "p", "reason"}
    label_counts: dict[str, int] = field(default_factory=dict)
    ended: bool = False
    runs: int = 1                                            # 1 + number of continue-as-new
    max_chunks_per_run: int = 200                            # continue-as-new before history grows large
    idle_timeout_s: float = 600.0                            # no chunk for this long: the client is gone, end
    ended_idle: bool = False


@dataclass
class StreamSummary:
    stream_id: str
    processed: int
    errors: int
    label_counts: dict[str, int]
    alert_events: list[dict]
    runs: int
