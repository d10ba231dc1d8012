"""Inference speed on this CPU: real-time factor (seconds of compute per second of audio) of each
available model, measured in one run on the same clips, plus peak memory. Prints a table; asserts nothing.

    .venv/bin/python bench/bench_inference.py [--repeats 10] [--json reports/bench_inference.json]
"""
from __future__ import annotations

import argparse
import json
import resource

from crysense.config import get_paths
from crysense.serving.benchmark import real_time_factor


def available_models(paths):
    """(name, predict(waveform)) of each ensemble member and of the whole Classifier, all loaded from models/."""
    from crysense.serving.inference import Classifier
    clf = Classifier.load(paths.models)   # loads every member once, as the CLI and the worker do
    # each member timed alone, from the window's samples (its share of any input the members share included)
    models = [(name, lambda x, fn=fn: fn(clf.prepare(x))) for name, fn in clf.members.items()]
    models.append((f"ensemble ({clf.combiner})", lambda x: clf.classify_window(x)))
    return models


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--seconds", type=float, nargs="+", default=[5.0, 10.0, 15.0])
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args(argv)
    paths = get_paths()
    models = available_models(paths)
    rows = []
    for name, predict in models:
        for s in args.seconds:
            t = real_time_factor(predict, s, args.repeats)["compute_s_per_clip"]
            rows.append({"model": name, "clip_s": s, "compute_s": round(t, 4), "real_time_factor": round(t / s, 5),
                         "x_faster_than_real_time": round(s / t, 1)})
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'model':<38}{'clip s':>8}{'compute s':>11}{'RTF':>10}{'x real time':>13}")
    for r in rows:
        print(f"{r['model']:<38}{r['clip_s']:>8g}{r['compute_s']:>11.4f}{r['real_time_factor']:>10.5f}"
              f"{r['x_faster_than_real_time']:>13.1f}")
    print(f"peak resident memory of this process: {peak_mb:.0f} MB (all models loaded)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "peak_rss_mb": peak_mb, "repeats": args.repeats}, f, indent=1)


if __name__ == "__main__":
    main()
