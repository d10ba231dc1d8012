"""Would the full study finish sooner running two notebooks at once (``run_notebooks(jobs=2)``, one thread each)?

Times a fixed amount of the full run's two kinds of heavy work, each in a fresh process:
- ``wav2vec2``: training steps of the compact Wav2Vec2 (batch 8 of 5 s clips, forward and backward), as in
  pretraining (02b) and the cry-reason fine-tuning (06);
- ``yamnet``: YAMNet's frozen trunk on 5 s clips, as in notebooks 02, 04 and 05b;
three ways: alone with the libraries' default thread pools (one notebook at a time, today's full run), alone with
one thread, and two one-thread copies at once (two notebooks at a time). Prints seconds and the throughput of two
one-thread copies relative to one default copy: above 1, two notebooks at a time finish the same work sooner.

    python bench/thread_scaling.py [--steps 8] [--clips 300]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from crysense.reporting import ONE_THREAD_ENV  # the pools a notebook run two at a time limits to one thread


def wav2vec2_steps(steps: int) -> float:
    import torch

    from crysense.speech import wav2vec2
    model = wav2vec2.load_classifier(random_init=True, size="compact")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 80_000, generator=generator) * 0.1, torch.randint(0, 3, (8,), generator=generator)

    def step():
        optimizer.zero_grad()
        model(x, labels=y).loss.backward()
        optimizer.step()
    step()   # the first step allocates; not timed
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - t0


def yamnet_trunk(clips: int) -> float:
    import numpy as np

    from crysense import yamnet
    base = yamnet.load_yamnet()
    waves = np.random.default_rng(0).normal(0, 0.1, (clips + 1, 80_000)).astype(np.float32)
    base.trunk_activations(waves[0])   # the first call builds the graph; not timed
    t0 = time.perf_counter()
    for w in waves[1:]:
        base.trunk_activations(w)
    return time.perf_counter() - t0


WORK = {"wav2vec2": wav2vec2_steps, "yamnet": yamnet_trunk}


def measure(work: str, amount: int, copies: int, one_thread: bool) -> list[float]:
    """Seconds of each of ``copies`` processes started together."""
    env = {k: v for k, v in os.environ.items() if k not in ONE_THREAD_ENV}
    if one_thread:
        env.update(ONE_THREAD_ENV)
    cmd = [sys.executable, __file__, "--child", work, "--amount", str(amount)]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for _ in range(copies)]
    out = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError(f"{work} failed: {out}")
    return [json.loads(o.strip().splitlines()[-1])["seconds"] for o in out]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=8, help="Wav2Vec2 training steps per process")
    ap.add_argument("--clips", type=int, default=300, help="5 s clips through YAMNet's trunk per process")
    ap.add_argument("--child", choices=sorted(WORK), help=argparse.SUPPRESS)
    ap.add_argument("--amount", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps({"seconds": WORK[args.child](args.amount)}))
        return
    from crysense.reporting import machine
    on = machine()
    print(f"{on['cores']} cores, {on['cpu']}, load {on['load_1min']} at start, commit {on['commit']}")
    for work, amount in (("wav2vec2", args.steps), ("yamnet", args.clips)):
        default = measure(work, amount, 1, False)[0]
        single = measure(work, amount, 1, True)[0]
        pair = measure(work, amount, 2, True)
        ratio = 2 * default / max(pair)
        print(f"{work} ({amount} units per process): default threads {default:.1f} s; one thread {single:.1f} s; "
              f"two one-thread processes at once {pair[0]:.1f} s and {pair[1]:.1f} s -> throughput of two at once "
              f"relative to one at a time: {ratio:.2f}x")


if __name__ == "__main__":
    main()
