"""Alert notifications: a webhook (HTTP POST of a small JSON) and MQTT (an event message, and a retained state
topic that Home Assistant's MQTT binary sensor reads), once per alert event.

Delivery is idempotent per (event, channel): what was delivered is recorded in the results store, so a retried
activity sends only what is still missing; Temporal never re-runs a completed activity on replay. The event id
travels in every message, so a receiver can also drop the rare duplicate of an activity that crashed between
sending and recording.

    mqtt://127.0.0.1:1883/crysense   ->  crysense/<stream>/event (JSON, QoS 1)
                                         crysense/<stream>/state ("ON" / "OFF", QoS 1, retained)
"""
from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import asdict, dataclass
from urllib.parse import urlparse

from .shared import AlertNotice, NotifyTargets


@dataclass(frozen=True)
class MqttTarget:
    host: str
    port: int
    prefix: str

    @classmethod
    def parse(cls, url: str) -> "MqttTarget":
        u = urlparse(url)
        if u.scheme != "mqtt" or not u.hostname:
            raise ValueError(f"not an MQTT URL (mqtt://host:port/topic-prefix): {url!r}")
        return cls(u.hostname, u.port or 1883, u.path.strip("/") or "crysense")


def message(notice: AlertNotice) -> dict:
    return {**asdict(notice), "sent_at": time.time()}


def post_webhook(url: str, notice: AlertNotice, timeout_s: float = 5.0) -> None:
    """POST the notice as JSON; anything but a 2xx answer raises (and the activity retries)."""
    req = urllib.request.Request(url, data=json.dumps(message(notice)).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "X-Crysense-Event": notice.event_id})
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:   # raises HTTPError on 4xx/5xx
        if not 200 <= resp.status < 300:
            raise RuntimeError(f"webhook {url} answered {resp.status}")


def publish_mqtt(url: str, notice: AlertNotice, timeout_s: float = 5.0) -> None:
    """Publish the event (QoS 1) and the retained state of the stream's alert; raises unless both are acknowledged."""
    import paho.mqtt.client as mqtt
    target = MqttTarget.parse(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"crysense-{notice.event_id}"[:60])
    client.connect(target.host, target.port, keepalive=10)
    client.loop_start()
    try:
        base = f"{target.prefix}/{notice.stream_id}"
        infos = [client.publish(f"{base}/event", json.dumps(message(notice)), qos=1),
                 client.publish(f"{base}/state", "ON" if notice.event == "alert on" else "OFF", qos=1, retain=True)]
        for info in infos:
            info.wait_for_publish(timeout=timeout_s)
            if not info.is_published():
                raise RuntimeError(f"MQTT broker {target.host}:{target.port} did not acknowledge {base}")
    finally:
        client.loop_stop()
        client.disconnect()


CHANNELS = {"webhook": post_webhook, "mqtt": publish_mqtt}


def deliver(notice: AlertNotice, targets: NotifyTargets, store) -> list[str]:
    """Send ``notice`` on every configured channel not yet delivered; returns the channels sent now. A failing
    channel raises after the others were tried (the retry then sends only what is missing)."""
    sent, errors = [], []
    for channel, url in (("webhook", targets.webhook), ("mqtt", targets.mqtt)):
        if not url or store.delivered(notice.event_id, channel):
            continue
        try:
            CHANNELS[channel](url, notice)
        except Exception as e:  # noqa: BLE001 - any delivery failure is retried by the activity
            errors.append(f"{channel}: {type(e).__name__}: {e}")
            continue
        store.mark_delivered(notice.event_id, channel)
        sent.append(channel)
    if errors:
        raise RuntimeError(f"notification {notice.event_id} not delivered: " + "; ".join(errors))
    return sent
