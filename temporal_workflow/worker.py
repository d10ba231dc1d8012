"""The worker: loads the models once, then runs workflows and activities (CPU work in a thread pool).

    python -m temporal_workflow.worker [--address 127.0.0.1:7233] [--models models/]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from .activities import ChunkActivities
from .shared import DEFAULT_ADDRESS, TASK_QUEUE
from .storage import AudioStore, ResultStore, open_audio_store
from .workflow import ClassifyClipWorkflow, NotifierWorkflow, StreamWorkflow


def make_worker(client: Client, classifier, audio_store: AudioStore, result_store: ResultStore,
                executor: ThreadPoolExecutor, threads: int, task_queue: str = TASK_QUEUE,
                delete_after_result: bool = True, timings: list | None = None) -> Worker:
    """``threads``: the executor's size, and how many (local) activities may run at once. ``timings``: a list that
    collects where each chunk's activity time went (benchmarks)."""
    acts = ChunkActivities(classifier, audio_store, result_store, delete_after_result, timings)
    return Worker(client, task_queue=task_queue, workflows=[ClassifyClipWorkflow, StreamWorkflow, NotifierWorkflow],
                  activities=acts.all(), activity_executor=executor, max_concurrent_activities=threads,
                  max_concurrent_local_activities=threads)


@dataclasses.dataclass
class LocalWorker:
    """What ``local_worker`` started: the dev server, a client, the stores and the task queue its worker polls;
    ``timings`` collects where each chunk's activity time went (``benchmark.breakdown``)."""
    server: object
    client: Client
    audio: AudioStore
    results: ResultStore
    queue: str
    timings: list


@contextlib.asynccontextmanager
async def local_worker(runtime_dir, classifier, threads: int = 2, ui: bool = False, keep_audio: bool = True):
    """A Temporal dev server on loopback (its database, the audio and the results under ``runtime_dir``) and a worker
    with ``threads`` activity threads on a fresh task queue, until the block ends: what notebook 07 and
    ``bench/bench_temporal.py`` measure. ``keep_audio``: benchmarks send the same stored chunks again and again
    (retention is tested in tests/)."""
    from .devserver import connect, dev_server
    runtime_dir = Path(runtime_dir)
    with dev_server(runtime_dir / "temporal.sqlite", ui=ui) as server, ThreadPoolExecutor(threads) as executor:
        local = LocalWorker(server, await connect(server.address), AudioStore(runtime_dir / "audio"),
                            ResultStore(str(runtime_dir / "results.sqlite")), f"crysense-{uuid.uuid4().hex[:6]}", [])
        worker = make_worker(local.client, classifier, local.audio, local.results, executor, threads,
                             task_queue=local.queue, delete_after_result=not keep_audio, timings=local.timings)
        running = asyncio.create_task(worker.run())
        try:
            yield local
        finally:
            await worker.shutdown()
            await running


async def sweep_forever(store: AudioStore, hours: float, every_s: float = 600.0) -> None:
    while True:
        n = store.sweep(hours * 3600)
        if n:
            print(f"audio store: deleted {n} chunks older than {hours:g} h", flush=True)
        await asyncio.sleep(every_s)


async def serve(address: str, models: str | None, task_queue: str, threads: int, keep_audio_hours: float | None,
                audio_store: str | None = None, results_db: str | None = None, kernel_threads: int = 1) -> None:
    from crysense.serving.inference import Classifier, limit_kernel_threads
    limit_kernel_threads(kernel_threads)   # before the models first run
    classifier = Classifier.load(models)   # once per worker process
    client = await Client.connect(address)
    store = open_audio_store(audio_store)
    results = ResultStore(results_db, max_connections=threads + 1)   # each activity thread, and the notifier
    with ThreadPoolExecutor(max_workers=threads) as ex:
        worker = make_worker(client, classifier, store, results, ex, threads, task_queue,
                             delete_after_result=keep_audio_hours is None)
        print(f"worker ready on {address}, task queue {task_queue!r}", flush=True)
        sweeper = asyncio.create_task(sweep_forever(store, keep_audio_hours)) if keep_audio_hours else None
        try:
            await worker.run()
        finally:
            if sweeper:
                sweeper.cancel()
            results.close()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--address", default=DEFAULT_ADDRESS)
    ap.add_argument("--models", default=os.environ.get("CRYSENSE_MODELS"))
    ap.add_argument("--task-queue", default=TASK_QUEUE)
    ap.add_argument("--threads", type=int, default=2, help="activity threads: windows classified at once (2 cores: 2)")
    ap.add_argument("--kernel-threads", type=int, default=1,
                    help="threads of each model's kernels (threads x kernel threads = cores; default 1)")
    ap.add_argument("--keep-audio-hours", type=float, default=None,
                    help="retention: keep chunk audio this many hours (default: delete it once its result is stored)")
    ap.add_argument("--audio-store", help="a folder or s3://bucket/prefix, shared with the clients (default: "
                    "$CRYSENSE_AUDIO_STORE, else runtime/audio; S3 endpoint and keys: AWS_ENDPOINT_URL_S3, "
                    "AWS_ACCESS_KEY_ID, ...)")
    ap.add_argument("--results-db", help="an SQLite file or postgresql:// URL (default: $CRYSENSE_RESULTS_DB, else "
                    "runtime/results.sqlite)")
    args = ap.parse_args(argv)
    from crysense.serving.inference import ModelsMissing
    try:
        asyncio.run(serve(args.address, args.models, args.task_queue, args.threads, args.keep_audio_hours,
                          args.audio_store, args.results_db, args.kernel_threads))
    except ModelsMissing as e:   # before the study ran: one line and exit 2, not a traceback
        sys.exit(f"worker: {e}")


if __name__ == "__main__":
    main()
