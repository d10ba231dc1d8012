"""The alert rule a monitor applies to the stream of window probabilities: pure and deterministic, the same
in the Temporal stream workflow, in ``python -m crysense stream`` and in the study's streaming evaluation.

A window *counts* when p(label) >= ``threshold`` (a bad window never counts). The alert switches **on** when at
least ``n`` of the last ``m`` windows count, and **off** when none of the last ``m`` do (hysteresis: one stray
window neither raises nor clears it). After an alert has ended, no new one starts for ``min_gap_s`` seconds of
stream time (a carer is not woken twice for one restless spell). When the stream ends while an alert is on,
``finish`` switches it off.
"""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class AlertRule:
    n: int = 2
    m: int = 3
    threshold: float = 0.5        # on p(label), not only the argmax
    min_gap_s: float = 0.0
    label: str = "crying"

    def __post_init__(self):
        if not 1 <= self.n <= self.m:
            raise ValueError(f"need 1 <= n <= m, got n={self.n}, m={self.m}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be a probability, got {self.threshold}")


@dataclasses.dataclass
class AlertState:
    """What the rule remembers between windows (plain data: it travels in Temporal payloads)."""
    recent: list[bool] = dataclasses.field(default_factory=list)   # the last m windows: counted or not
    on: bool = False
    off_since_s: float | None = None   # stream time the last alert ended (for the gap)


@dataclasses.dataclass(frozen=True)
class AlertEvent:
    time_s: float     # stream time of the window that switched the alert (its start)
    on: bool
    p: float | None   # p(label) of that window (None at the end of a stream)
    reason: str = ""  # "n of m", "none of m", "stream ended"


def step(rule: AlertRule, state: AlertState, p: float | None, time_s: float) -> AlertEvent | None:
    """Feed one window (``p``: p(label), None for a bad window) at stream time ``time_s``; returns the event
    it causes, if any. ``state`` is updated in place."""
    counted = p is not None and p >= rule.threshold
    state.recent = (state.recent + [counted])[-rule.m:]
    hits = sum(state.recent)
    if not state.on and hits >= rule.n:
        if state.off_since_s is not None and time_s - state.off_since_s < rule.min_gap_s:
            return None
        state.on = True
        return AlertEvent(time_s, True, p, f"{hits} of {len(state.recent)}")
    if state.on and hits == 0:
        state.on, state.off_since_s = False, time_s
        return AlertEvent(time_s, False, p, f"none of {len(state.recent)}")
    return None


def finish(state: AlertState, time_s: float) -> AlertEvent | None:
    """The stream ended: an alert still on switches off."""
    if not state.on:
        return None
    state.on, state.off_since_s = False, time_s
    return AlertEvent(time_s, False, None, "stream ended")


def run(rule: AlertRule, probabilities, times, end_s: float | None = None) -> list[AlertEvent]:
    """Every event of a whole stream: ``probabilities`` of ``rule.label`` per window (None: bad window) at
    ``times``; ``end_s``: when the stream ended (None: it goes on)."""
    state, events = AlertState(), []
    for p, t in zip(probabilities, times):
        if (event := step(rule, state, p, t)) is not None:
            events.append(event)
    if end_s is not None and (event := finish(state, end_s)) is not None:
        events.append(event)
    return events


def shipped_rule(models_dir) -> AlertRule:
    """The rule chosen by the streaming evaluation (``models/operating_point.json``, notebook 05c) when the
    models folder holds one, else the default rule."""
    import json
    from pathlib import Path
    f = Path(models_dir) / "operating_point.json"
    if not f.exists():
        return AlertRule()
    d = json.loads(f.read_text())
    return AlertRule(n=d["n"], m=d["m"], threshold=d["threshold"], label=d.get("label", "crying"))
