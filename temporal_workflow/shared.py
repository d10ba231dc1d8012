"""Payloads and names shared by workflows, activities, worker and client. No heavy imports: workflow code
imports this module inside Temporal's sandbox."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

TASK_QUEUE = "crysense"
DEFAULT_ADDRESS = os.environ.get("CRYSENSE_TEMPORAL_ADDRESS", "127.0.0.1:7233")
BAD_AUDIO = "BadAudio"   # ApplicationError type of a chunk that can never be classified


@dataclass
class ChunkRef:
    """A chunk of audio by reference (claim check): the samples live in the audio store under ``audio_key``."""
    stream_id: str
    index: int
    audio_key: str
    start_s: float = 0.0


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


@dataclass
class AlertParams:
    """Debounced alert: on when at least ``n`` of the last ``m`` classified chunks are ``label``; off again
    when none of the last ``m`` are (hysteresis: one stray window neither raises nor clears it)."""
    n: int = 2
    m: int = 3
    label: str = "crying"


@dataclass
class StreamState:
    """Everything a stream workflow carries across continue-as-new."""
    stream_id: str
    alert_params: AlertParams = field(default_factory=AlertParams)
    pending: list[ChunkRef] = field(default_factory=list)
    last_index: int = -1                                     # highest chunk index received (order check)
    processed: int = 0
    errors: int = 0
    recent_labels: list[str] = field(default_factory=list)   # last m labels ('' for errors)
    alert: bool = False
    alert_events: list[dict] = field(default_factory=list)   # {"index", "start_s", "alert"}
    label_counts: dict[str, int] = field(default_factory=dict)
    ended: bool = False
    runs: int = 1                                            # 1 + number of continue-as-new
    max_chunks_per_run: int = 200                            # continue-as-new before history grows large


@dataclass
class StreamSummary:
    stream_id: str
    processed: int
    errors: int
    label_counts: dict[str, int]
    alert_events: list[dict]
    runs: int
