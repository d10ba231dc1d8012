"""Latency through Temporal vs the bare Classifier on the same chunks, and worker throughput.

Figures are measured, printed and returned; nothing is asserted."""
from __future__ import annotations

import asyncio
import time
import uuid

import numpy as np

from .shared import ChunkRef
from .storage import AudioStore
from .workflow import ClassifyClipWorkflow, StreamWorkflow


def _pct(xs, q):
    return float(np.percentile(xs, q)) if len(xs) else float("nan")


async def chunk_latency(client, classifier, chunks: list[np.ndarray], audio: AudioStore, task_queue: str) -> dict:
    """p50/p95 seconds per chunk: bare ``classifier.classify`` vs a ClassifyClipWorkflow (store the chunk,
    preprocess, classify, store the result) on the same chunks, one at a time."""
    bare, through = [], []
    classifier.classify(chunks[0])   # warm-up, both paths
    for x in chunks:
        t0 = time.perf_counter()
        classifier.classify(x)
        bare.append(time.perf_counter() - t0)
    await client.execute_workflow(ClassifyClipWorkflow.run, ChunkRef("bench-warm", 0, audio.put_samples(chunks[0])),
                                  id=f"bench-warm-{uuid.uuid4().hex[:8]}", task_queue=task_queue)
    for i, x in enumerate(chunks):
        t0 = time.perf_counter()
        ref = ChunkRef(f"bench-{uuid.uuid4().hex[:8]}", 0, audio.put_samples(x))
        await client.execute_workflow(ClassifyClipWorkflow.run, ref, id=f"bench-{ref.stream_id}", task_queue=task_queue)
        through.append(time.perf_counter() - t0)
    out = {"chunks": len(chunks), "chunk_s": len(chunks[0]) / 16000,
           "bare_p50_s": _pct(bare, 50), "bare_p95_s": _pct(bare, 95),
           "temporal_p50_s": _pct(through, 50), "temporal_p95_s": _pct(through, 95)}
    out["overhead_ratio_p50"] = out["temporal_p50_s"] / out["bare_p50_s"]
    out["overhead_ratio_p95"] = out["temporal_p95_s"] / out["bare_p95_s"]
    return out


async def stream_throughput(client, chunks: list[np.ndarray], audio: AudioStore, task_queue: str,
                            streams: int = 3, hop_s: float = 5.0) -> dict:
    """Flood ``streams`` stream workflows with the chunks at once; the worker's sustained chunk rate tells how many
    real-time streams (one window every ``hop_s``) it can keep up with."""
    from .client import start_stream
    handles = []
    t0 = time.perf_counter()
    for s in range(streams):
        sid = f"bench-{uuid.uuid4().hex[:8]}"
        h = await start_stream(client, sid, task_queue=task_queue)
        for i, x in enumerate(chunks):
            await h.signal(StreamWorkflow.add_chunk, ChunkRef(sid, i, audio.put_samples(x), i * hop_s))
        await h.signal(StreamWorkflow.end_stream)
        handles.append(h)
    await asyncio.gather(*(h.result() for h in handles))
    seconds = time.perf_counter() - t0
    rate = streams * len(chunks) / seconds
    return {"streams": streams, "chunks_per_stream": len(chunks), "wall_s": seconds, "chunks_per_s": rate,
            "hop_s": hop_s, "sustainable_realtime_streams": int(rate * hop_s)}
