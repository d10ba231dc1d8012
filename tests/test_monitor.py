"""Streaming evaluation on synthetic streams with known answers: background only from normal clips, every
eligible cry episode inserted once, false alerts counted per hour, episodes caught with their latency, and the
operating point chosen within the false-alert target."""
import numpy as np
import pandas as pd

from conftest import noise, tone
from crysense.config import LABELS
from crysense.evaluation import monitor
from crysense.serving import alerts

SR = 16_000


class FakeLoader:
    def __init__(self, audio):
        self.audio = audio

    def load_row(self, row):
        return self.audio[row["sha256"]]


def corpus():
    rows, audio = [], {}
    for i in range(24):                                    # 2 min of quiet normal sound
        rows.append({"sha256": f"n{i}", "label": "normal", "split": "test", "group": f"n{i}", "duration_s": 5.0})
        audio[f"n{i}"] = noise(5.0, amp=0.05, seed=i)
    for b, clips in enumerate([3, 3, 2, 1]):              # babies with 21, 21, 14 and 7 s of crying
        for c in range(clips):
            sha = f"c{b}{c}"
            rows.append({"sha256": sha, "label": "crying", "split": "test", "group": f"baby{b}", "duration_s": 7.0})
            audio[sha] = tone(400 + 50 * b, 7.0, amp=0.5)
    rows.append({"sha256": "v0", "label": "normal", "split": "val", "group": "v0", "duration_s": 5.0})
    audio["v0"] = tone(900, 5.0, amp=0.5)                # another split's audio never enters a test stream
    return pd.DataFrame(rows), FakeLoader(audio)


def loud(x):
    """p(crying) from loudness: a window full of tone scores 1, quiet noise ~0.2."""
    p = float(np.clip(4 * np.sqrt(np.mean(x ** 2)), 0, 1))
    return np.array([p, 0.0, 1 - p])


def test_streams_hold_the_split_and_every_eligible_episode_once():
    df, loader = corpus()
    streams = monitor.build_streams(df, "test", loader, monitor.StreamSpec(orders=2))
    assert len(streams) == 4 and [bool(s.episodes) for s in streams] == [False, True, False, True]
    background = streams[0]
    assert len(background.samples) == 24 * 5 * SR and not np.any(np.abs(background.samples) > 0.4)   # no v0 tone
    for s in streams[1::2]:
        assert sorted(g for _, _, g in s.episodes) == ["baby0", "baby1"]    # the babies with >= 20 s
        for start, end, _ in s.episodes:
            assert end - start == 20.0 and (start * SR) % (5 * SR) == 0     # whole hops
            seg = s.samples[int(start * SR):int(end * SR)]
            assert np.sqrt(np.mean(seg ** 2)) > 0.3
    assert not np.array_equal(streams[0].samples, streams[2].samples)      # two orders


def test_false_alerts_episodes_and_latency():
    df, loader = corpus()
    streams = monitor.build_streams(df, "test", loader, monitor.StreamSpec(orders=1))
    windows = monitor.window_probabilities(streams, {"loud": loud}, progress=False)
    # members reading a prepared window (the Classifier's shared inputs) give the same rows
    prepared = monitor.window_probabilities(streams, {"loud": lambda w: loud(w["samples"])}, progress=False,
                                            prepare=lambda x: {"samples": x})
    assert prepared.equals(windows)
    p = monitor.system_probabilities(windows, ["loud"])["loud"][:, LABELS.index("crying")]
    r = monitor.evaluate(windows, p, streams, alerts.AlertRule(n=2, m=3, threshold=0.5))
    assert r["false_alerts"] == 0 and r["episodes"] == 2 and r["episode_recall"] == 1.0
    assert 0 < r["latency_median_s"] <= 20.0
    assert np.isclose(r["normal_hours"], 120 / 3600)
    # a member that hears crying in every third quiet window: one window a time raises false alerts ...
    flaky = p.copy()
    quiet = np.flatnonzero(p < 0.5)
    flaky[quiet[::3]] = 0.99
    eager = monitor.evaluate(windows, flaky, streams, alerts.AlertRule(n=1, m=1, threshold=0.5))
    assert eager["false_alerts_per_hour"] > 10
    # ... and the sweep's operating point is a rule that waits for more than one window
    table = monitor.sweep(windows, {"flaky": np.stack([flaky, 0 * flaky, 1 - flaky], 1)}, streams,
                          grid={"threshold": [0.5, 0.95], "nm": [(1, 1), (2, 3)]})
    best = monitor.choose(table, "flaky", max_false_alerts_per_hour=1.0)
    assert best["meets_target"] and (best["n"], best["m"]) == (2, 3) and best["episode_recall"] == 1.0
