"""The alert rule on hand-made window runs: exact on/off sequences for hysteresis, threshold, the gap after an
alert, bad windows and the end of a stream."""
import pytest

from crysense.serving import alerts

T = [5.0 * i for i in range(20)]   # window starts: a 10 s window every 5 s


def events(rule, probs, end_s=None):
    return [(e.time_s, e.on, e.reason) for e in alerts.run(rule, probs, T[: len(probs)], end_s)]


def test_two_of_three_on_none_of_three_off():
    rule = alerts.AlertRule(threshold=0.5, n=2, m=3)
    assert events(rule, [0.9, 0.1, 0.9, 0.9, 0.1, 0.1, 0.1]) == [(10.0, True, "2 of 3"), (30.0, False, "none of 3")]
    assert events(rule, [0.9, 0.1, 0.1, 0.9, 0.1, 0.1, 0.9]) == []   # isolated windows never raise it
    # one quiet window does not clear an alert; it clears only after three quiet windows in a row
    assert events(rule, [0.9, 0.9, 0.2, 0.9, 0.2, 0.2, 0.9, 0.2, 0.2, 0.2]) == \
        [(5.0, True, "2 of 2"), (45.0, False, "none of 3")]


def test_threshold_is_on_the_probability_not_the_argmax():
    strict = alerts.AlertRule(threshold=0.7, n=2, m=2)
    assert events(strict, [0.6, 0.6, 0.6]) == []
    assert events(strict, [0.6, 0.7, 0.7]) == [(10.0, True, "2 of 2")]


def test_minimum_gap_after_an_alert_ended():
    rule = alerts.AlertRule(n=1, m=1, min_gap_s=20.0)
    probs = [0.9, 0.1, 0.9, 0.9, 0.9, 0.9, 0.1]
    # on at 0, off at 5; the windows at 10 and 15 come within 20 s of the end: no alert until 25
    assert events(rule, probs) == [(0.0, True, "1 of 1"), (5.0, False, "none of 1"), (25.0, True, "1 of 1"),
                                   (30.0, False, "none of 1")]


def test_bad_windows_never_count_and_a_stream_that_ends_switches_off():
    rule = alerts.AlertRule(n=2, m=3)
    assert events(rule, [0.9, None, 0.9, None, None, None]) == [(10.0, True, "2 of 3"), (25.0, False, "none of 3")]
    assert events(rule, [0.9, 0.9, 0.9], end_s=20.0) == [(5.0, True, "2 of 2"), (20.0, False, "stream ended")]
    assert events(rule, [0.1, 0.1], end_s=10.0) == []


def test_rules_that_cannot_work_are_refused():
    with pytest.raises(ValueError):
        alerts.AlertRule(n=4, m=3)
    with pytest.raises(ValueError):
        alerts.AlertRule(threshold=1.5)


def test_the_shipped_operating_point_is_read_from_the_models_folder(tmp_path):
    import json
    assert alerts.shipped_rule(tmp_path) == alerts.AlertRule()
    (tmp_path / "operating_point.json").write_text(json.dumps({"n": 3, "m": 4, "threshold": 0.8, "label": "crying"}))
    assert alerts.shipped_rule(tmp_path) == alerts.AlertRule(n=3, m=4, threshold=0.8)
