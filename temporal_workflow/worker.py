"""The worker: loads the models once, then runs workflows and activities (CPU work in a thread pool).

    python -m temporal_workflow.worker [--address 127.0.0.1:7233] [--models models/]
"""
from __future__ import annotations

import argparse
import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from .activities import ChunkActivities
from .shared import DEFAULT_ADDRESS, TASK_QUEUE
from .storage import AudioStore, ResultStore
from .workflow import ClassifyClipWorkflow, NotifierWorkflow, StreamWorkflow


def make_worker(client: Client, classifier, audio_store: AudioStore, result_store: ResultStore,
                executor: ThreadPoolExecutor, task_queue: str = TASK_QUEUE) -> Worker:
    acts = ChunkActivities(classifier, audio_store, result_store)
    return Worker(client, task_queue=task_queue, workflows=[ClassifyClipWorkflow, StreamWorkflow, NotifierWorkflow],
                  activities=acts.all(), activity_executor=executor,
                  max_concurrent_activities=executor._max_workers)


async def serve(address: str, models: str | None, task_queue: str, threads: int) -> None:
    from crysense.inference import Classifier
    classifier = Classifier.load(models)   # once per worker process
    client = await Client.connect(address)
    with ThreadPoolExecutor(max_workers=threads) as ex:
        worker = make_worker(client, classifier, AudioStore(), ResultStore(), ex, task_queue)
        print(f"worker ready on {address}, task queue {task_queue!r}", flush=True)
        await worker.run()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--address", default=DEFAULT_ADDRESS)
    ap.add_argument("--models", default=os.environ.get("CRYSENSE_MODELS"))
    ap.add_argument("--task-queue", default=TASK_QUEUE)
    ap.add_argument("--threads", type=int, default=2, help="activity threads (2 cores: 2)")
    args = ap.parse_args(argv)
    asyncio.run(serve(args.address, args.models, args.task_queue, args.threads))


if __name__ == "__main__":
    main()
