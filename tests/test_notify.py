"""Alert notifications against real servers on loopback: a webhook (HTTP POST of JSON) and Debian's mosquitto
broker (an event message and a retained ON/OFF state); one delivery per event and channel, however often the
activity is retried."""
import json

import pytest

from conftest import MqttRecorder
from temporal_workflow.notify import MqttTarget, deliver
from temporal_workflow.shared import AlertNotice, NotifyTargets
from temporal_workflow.storage import ResultStore


def notice(i: int, on: bool) -> AlertNotice:
    return AlertNotice("nursery", f"nursery:{i}", "alert on" if on else "alert off", 5.0 * i, 0.9 if on else 0.1,
                       "2 of 3" if on else "none of 3")


def test_webhook_and_mqtt_get_each_event_once(tmp_path, webhook, mosquitto):
    store = ResultStore(str(tmp_path / "r.sqlite"))
    hook, mqtt = webhook(), MqttRecorder(mosquitto)
    try:
        targets = NotifyTargets(hook.url, mosquitto)
        assert deliver(notice(1, True), targets, store) == ["webhook", "mqtt"]
        assert deliver(notice(1, True), targets, store) == []            # a retried activity: nothing twice
        assert deliver(notice(2, False), targets, store) == ["webhook", "mqtt"]
        got = mqtt.wait_for(4, live=True)
    finally:
        mqtt.close()
    assert [(m["event_id"], m["event"]) for m in hook.received] == [("nursery:1", "alert on"), ("nursery:2", "alert off")]
    events = [json.loads(p) for t, p, retained in got if t == "crysense-test/nursery/event" and not retained]
    states = [p for t, p, retained in got if t == "crysense-test/nursery/state" and not retained]
    assert [e["event_id"] for e in events] == ["nursery:1", "nursery:2"] and states == ["ON", "OFF"]
    late = MqttRecorder(mosquitto)        # Home Assistant connecting later still reads the retained state
    try:
        assert [(p, retained) for t, p, retained in late.wait_for(1) if t.endswith("/state")] == [("OFF", True)]
    finally:
        late.close()


def test_a_failing_channel_is_retried_alone(tmp_path, webhook, mosquitto):
    store = ResultStore(str(tmp_path / "r.sqlite"))
    hook = webhook(fail_first=1)
    targets = NotifyTargets(hook.url, mosquitto)
    with pytest.raises(RuntimeError, match="webhook: HTTPError"):
        deliver(notice(1, True), targets, store)                          # MQTT went out, the webhook failed
    assert store.delivered("nursery:1", "mqtt") and not store.delivered("nursery:1", "webhook")
    assert deliver(notice(1, True), targets, store) == ["webhook"]       # the retry sends only what is missing
    assert len(hook.received) == 1


def test_mqtt_urls():
    assert MqttTarget.parse("mqtt://10.0.0.2:1884/home/baby") == MqttTarget("10.0.0.2", 1884, "home/baby")
    assert MqttTarget.parse("mqtt://broker") == MqttTarget("broker", 1883, "crysense")
    with pytest.raises(ValueError):
        MqttTarget.parse("http://broker/x")
