"""Temporal overhead and capacity on this CPU: chunk latency p50/p95 through Temporal vs the bare Classifier on
the same test chunks (ratio), and how many real-time streams one worker sustains (measured level by level).
Starts its own dev server on loopback. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_temporal.py [--chunks 20] [--capacity 16 32 64 96] [--json reports/bench_temporal.json]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from crysense.config import get_paths
from crysense.data.manifest import ClipLoader, load_manifest
from crysense.serving.inference import Classifier, limit_kernel_threads
from temporal_workflow import benchmark
from temporal_workflow.worker import local_worker


async def run(args) -> dict:
    paths = get_paths()
    df = load_manifest(paths.manifest)
    loader = ClipLoader(paths.cache)
    test = df[df.split == "test"].sample(args.chunks, random_state=0)
    chunks = [loader.load_row(r) for _, r in test.iterrows()]
    limit_kernel_threads(1)   # as the worker runs them: one window per core, each model's kernels on one thread
    classifier = Classifier.load(args.models)
    with tempfile.TemporaryDirectory() as tmp:
        async with local_worker(tmp, classifier, args.threads) as local:
            client, audio, results, queue, timings = local.client, local.audio, local.results, local.queue, local.timings
            latency = await benchmark.chunk_latency(client, classifier, chunks, audio, queue, timings)
            throughput = await benchmark.stream_throughput(client, chunks, audio, queue, args.streams, args.hop)
            capacity = await benchmark.realtime_capacity(client, chunks, audio, results, queue, args.capacity,
                                                         args.seconds, args.hop, timings)
    return {"latency": latency, "throughput": throughput, "capacity": capacity}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=20)
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--hop", type=float, default=5.0)
    ap.add_argument("--capacity", type=int, nargs="+", default=[16, 32, 64, 96],
                    help="numbers of concurrent real-time streams to try, one level after another")
    ap.add_argument("--seconds", type=float, default=45.0, help="audio each real-time stream sends per level")
    ap.add_argument("--threads", type=int, default=2, help="the worker's activity threads (windows classified at once)")
    ap.add_argument("--models")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    out = asyncio.run(run(args))
    lat, thr, cap = out["latency"], out["throughput"], out["capacity"]
    print(f"chunk latency over {lat['chunks']} test chunks ({lat['chunk_s']:.1f} s first chunk):")
    print(f"  bare Classifier    p50 {lat['bare_p50_s']:.3f} s   p95 {lat['bare_p95_s']:.3f} s")
    print(f"  through Temporal   p50 {lat['temporal_p50_s']:.3f} s   p95 {lat['temporal_p95_s']:.3f} s")
    print(f"  overhead ratio     p50 {lat['overhead_ratio_p50']:.2f}      p95 {lat['overhead_ratio_p95']:.2f}")
    print(f"throughput: {thr['chunks_per_s']:.2f} chunks/s with {thr['streams']} streams flooding the worker")
    print(f"real-time streams at once (one window every {args.hop:g} s; latency = sent -> stored result):")
    for c in cap:
        print(f"  {c['streams']:>3} streams  p50 {c['latency_p50_s']:.3f} s  p95 {c['latency_p95_s']:.3f} s  "
              f"max {c['latency_max_s']:.3f} s  "
              f"{'sustained' if c['sustained'] else 'falls behind (a result later than one hop)'}")
    print(benchmark.breakdown_markdown(lat, cap).strip())
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
