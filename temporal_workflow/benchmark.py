"""Latency through Temporal vs the bare Classifier on the same chunks, and worker throughput.

Figures are measured, printed and returned; nothing is asserted."""
from __future__ import annotations

import asyncio
import time
import uuid

import numpy as np

from crysense.config import AUDIO

from .shared import ChunkRef
from .storage import AudioStore
from .workflow import ClassifyClipWorkflow, StreamWorkflow


def _pct(xs, q):
    return float(np.percentile(xs, q)) if len(xs) else float("nan")


PARTS = ("audio_s", "classify_s", "store_s")


def breakdown(latency: list[float], activity: list[dict], before_activity: list[float]) -> dict:
    """Medians of where a chunk's time went: ``before_activity`` (send -> the activity starts: the signal or start
    RPC, the workflow task, waiting for a free activity slot), then the activity's parts (``activity``: the worker's
    timings: read + decode + validate, the models, the result row)."""
    out = {"chunks": len(activity), "total_p50_s": _pct(latency, 50), "before_activity_p50_s": _pct(before_activity, 50)}
    out.update({f"{k[:-2]}_p50_s": _pct([a[k] for a in activity], 50) for k in PARTS})
    return out


async def chunk_latency(client, classifier, chunks: list[np.ndarray], audio: AudioStore, task_queue: str,
                        timings: list | None = None) -> dict:
    """p50/p95 seconds per chunk: bare ``classifier.classify`` vs a ClassifyClipWorkflow (store the chunk,
    preprocess, classify, store the result) on the same chunks, one at a time. With the worker's ``timings``
    (``make_worker(..., timings=)``), also where the Temporal path's time went."""
    bare, through, started, parts = [], [], [], []
    classifier.classify(chunks[0])   # warm-up, both paths
    for x in chunks:
        t0 = time.perf_counter()
        classifier.classify(x)
        bare.append(time.perf_counter() - t0)
    await client.execute_workflow(ClassifyClipWorkflow.run, ChunkRef("bench-warm", 0, audio.put_samples(chunks[0])),
                                  id=f"bench-warm-{uuid.uuid4().hex[:8]}", task_queue=task_queue)
    for x in chunks:
        t0, wall0 = time.perf_counter(), time.time()
        ref = ChunkRef(f"bench-{uuid.uuid4().hex[:8]}", 0, audio.put_samples(x))
        await client.execute_workflow(ClassifyClipWorkflow.run, ref, id=f"bench-{ref.stream_id}", task_queue=task_queue)
        through.append(time.perf_counter() - t0)
        mine = [t for t in timings or [] if t["stream_id"] == ref.stream_id]
        if mine:
            started.append(mine[-1]["started_at"] - wall0)
            parts.append(mine[-1])
    out = {"chunks": len(chunks), "chunk_s": len(chunks[0]) / AUDIO.sample_rate,
           "bare_p50_s": _pct(bare, 50), "bare_p95_s": _pct(bare, 95),
           "temporal_p50_s": _pct(through, 50), "temporal_p95_s": _pct(through, 95)}
    out["overhead_ratio_p50"] = out["temporal_p50_s"] / out["bare_p50_s"]
    out["overhead_ratio_p95"] = out["temporal_p95_s"] / out["bare_p95_s"]
    if parts:   # the rest after the result row: the workflow completing and the client fetching its result
        out["breakdown"] = breakdown(through, parts, started)
    return out


async def stream_throughput(client, chunks: list[np.ndarray], audio: AudioStore, task_queue: str,
                            streams: int = 8, hop_s: float = 5.0) -> dict:
    """Flood ``streams`` stream workflows with all the chunks at once: the worker's chunk rate when it never waits
    for audio. (Each workflow takes its chunks in turn, so few streams leave the CPU idle between activities;
    ``realtime_capacity`` measures live streams directly.)"""
    from .client import start_stream
    handles = []
    t0 = time.perf_counter()
    for _ in range(streams):
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
            "hop_s": hop_s}


async def realtime_capacity(client, chunks: list[np.ndarray], audio: AudioStore, results, task_queue: str,
                            stream_counts=(16, 32, 64, 96), seconds: float = 45.0, hop_s: float = 5.0,
                            timings: list | None = None) -> list[dict]:
    """Measured, not derived: ``n`` streams at once, each sending one window every ``hop_s`` in real time (starts
    staggered over a hop) for ``seconds``. Latency is from sending a window to its stored result row. A level is
    sustained when even the slowest window's result was stored within ``hop_s``: results keep pace with the audio
    (a backlog that builds up shows first in the maximum, at the end of the level). With the worker's ``timings``,
    each level says where the time went (``breakdown``)."""
    from .client import start_stream
    keys = [audio.put_samples(x) for x in chunks]
    out = []
    for n in stream_counts:
        tag = uuid.uuid4().hex[:6]
        handles = {sid: await start_stream(client, sid, task_queue=task_queue)
                   for sid in (f"rt{n}-{tag}-{s}" for s in range(n))}
        sent: dict[tuple[str, int], float] = {}

        async def feed(k: int, sid: str, handle, n: int = n, sent: dict = sent):
            await asyncio.sleep(hop_s * k / n)
            t0 = time.monotonic()
            for i in range(max(1, int(seconds // hop_s))):
                await asyncio.sleep(max(0.0, t0 + i * hop_s - time.monotonic()))
                sent[(sid, i)] = time.time()
                await handle.signal(StreamWorkflow.add_chunk, ChunkRef(sid, i, keys[(k + i) % len(keys)], i * hop_s))
            await handle.signal(StreamWorkflow.end_stream)

        await asyncio.gather(*(feed(k, sid, h) for k, (sid, h) in enumerate(handles.items())))
        await asyncio.gather(*(h.result() for h in handles.values()))
        latency = [r["created_at"] - sent[(sid, r["chunk_index"])] for sid in handles for r in results.rows(sid)]
        level = {"streams": n, "windows": len(latency), "windows_sent": len(sent),
                 "latency_p50_s": _pct(latency, 50), "latency_p95_s": _pct(latency, 95),
                 "latency_max_s": max(latency, default=float("nan")),
                 "sustained": bool(latency) and max(latency) < hop_s}
        mine = [t for t in timings or [] if (t["stream_id"], t["index"]) in sent]
        if mine:
            level["breakdown"] = breakdown(latency, mine, [t["started_at"] - sent[(t["stream_id"], t["index"])] for t in mine])
        out.append(level)
    return out


def plot_capacity(capacity: list[dict], hop_s: float):
    """p50 / p95 / max latency (send -> stored result) against the number of real-time streams."""
    import matplotlib.pyplot as plt
    n = [c["streams"] for c in capacity]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for key, style in (("latency_p50_s", "o-"), ("latency_p95_s", "s-"), ("latency_max_s", "^:")):
        ax.plot(n, [c[key] for c in capacity], style, label=key.replace("latency_", "").replace("_s", ""))
    ax.axhline(hop_s, color="r", ls="--", lw=1, label=f"hop ({hop_s:g} s): the pace of the audio")
    ax.set(xlabel="concurrent real-time streams (one worker, 2 cores)", ylabel="latency to stored result (s)",
           yscale="log", xticks=n, title="real-time capacity")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def summary_markdown(latency: dict, throughput: dict, capacity: list[dict], window_s: float, hop_s: float) -> str:
    """The README's real-time paragraph, from the figures measured above."""
    ok = [c["streams"] for c in capacity if c["sustained"]]
    tried = ", ".join(f"{c['streams']} (p95 {c['latency_p95_s']:.2f} s, max {c['latency_max_s']:.2f} s)" for c in capacity)
    return (f"Chunk latency ({latency['chunks']} test clips, one at a time): bare `Classifier` p50 "
            f"{latency['bare_p50_s']:.3f} s / p95 {latency['bare_p95_s']:.3f} s; through Temporal (store, preprocess, "
            f"classify, store result) p50 "
            f"{latency['temporal_p50_s']:.3f} s / p95 {latency['temporal_p95_s']:.3f} s: overhead ratio "
            f"{latency['overhead_ratio_p50']:.2f} (p50), {latency['overhead_ratio_p95']:.2f} (p95). Flooded by "
            f"{throughput['streams']} streams, one worker on 2 cores processed {throughput['chunks_per_s']:.2f} chunks/s. "
            f"Real-time streams at once ({window_s:g} s windows every {hop_s:g} s, send -> stored result): {tried}; "
            + (f"none of these kept every result within the {hop_s:g} s hop." if not ok else
               f"the most that kept every result within the {hop_s:g} s hop: **{max(ok)}**"
               + (" (the highest level tried: the limit lies above it)." if max(ok) == capacity[-1]["streams"] else ".")
               + f" At that rate 10,000 monitors need {-(-10000 // max(ok))} such 2-core workers (see *Scaling out*).")
            + breakdown_markdown(latency, capacity))


def breakdown_markdown(latency: dict, capacity: list[dict]) -> str:
    """Where the time went (medians), for the single chunks and every real-time level that was timed."""
    def parts(b):
        return (f"before the activity {b['before_activity_p50_s']:.3f} s, audio read + decode + validate "
                f"{b['audio_p50_s']:.3f} s, models {b['classify_p50_s']:.3f} s, result row {b['store_p50_s']:.3f} s")
    lines = []
    if "breakdown" in latency:
        lines.append(f"one chunk at a time (of {latency['breakdown']['total_p50_s']:.3f} s): {parts(latency['breakdown'])}")
    lines += [f"{c['streams']} streams (of {c['breakdown']['total_p50_s']:.3f} s): {parts(c['breakdown'])}"
              for c in capacity if "breakdown" in c]
    if not lines:
        return ""
    return (" Where the time went (medians; *before the activity* = the signal or start call, the workflow task and "
            "the wait for a free activity thread): " + "; ".join(lines) + ".")
