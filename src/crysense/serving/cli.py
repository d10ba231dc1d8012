"""Command line: ``python -m crysense classify FILE... [--json]`` and ``python -m crysense stream``.

Each file is classified on its own: a bad file gets a clear error (and the exit code is 1), the others are
still classified. ``stream`` reads raw 16 kHz mono 16-bit little-endian PCM from standard input (e.g.
``ffmpeg -i in.mp3 -f s16le -ac 1 -ar 16000 - | python -m crysense stream``) and prints one line per window,
and a line for each alert event (`crysense.serving.alerts`: on when n of the last m windows reach the p(crying)
threshold, off when none of them do).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from ..config import AUDIO, LABELS, get_paths
from ..data.audio import AudioError, rms_dbfs
from . import alerts
from .alerts import AlertRule
from .streaming import StreamChunker, WindowParams, pcm_blocks


def _args(argv):
    ap = argparse.ArgumentParser(prog="python -m crysense", description="infant cry / scream / normal sound classifier")
    sub = ap.add_subparsers(dest="command", required=True)
    for name, text in (("classify", "classify audio files"), ("stream", "classify raw PCM from standard input")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--models", help="folder of trained models (default: models/)")
        p.add_argument("--window", type=float, default=10.0, help="window length, 5-15 s (default 10)")
        p.add_argument("--hop", type=float, default=5.0, help="hop between windows in s (default 5)")
        p.add_argument("--combiner", help="ensemble combiner (default: the chosen one)")
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")
        if name == "classify":
            p.add_argument("files", nargs="+")
        else:
            shipped = "default: the models' operating point (models/operating_point.json), else"
            p.add_argument("--threshold", type=float, help=f"a window counts as crying when p(crying) reaches this "
                           f"({shipped} {AlertRule.threshold})")
            p.add_argument("--alert-n", type=int, help=f"alert on: n of the last m windows count ({shipped} {AlertRule.n})")
            p.add_argument("--alert-m", type=int, help=f"... of the last m; off when none of them do ({shipped} {AlertRule.m})")
            p.add_argument("--min-gap", type=float, default=0.0,
                           help="seconds after an alert ended before the next may start (default 0)")
    return ap.parse_args(argv)


def _classifier(args):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")   # no weight-loading bars on every call
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    # TensorFlow's native start-up lines are silenced where it is imported (`yamnet.tf_runtime`)
    import transformers

    from .inference import Classifier, ModelsMissing, WindowParams  # lazy: the models' libraries load only to classify
    transformers.utils.logging.disable_progress_bar()
    kw = {"window": WindowParams(args.window, args.hop)}
    if args.combiner:
        kw["combiner"] = args.combiner
    try:
        return Classifier.load(args.models, **kw)
    except ModelsMissing as e:   # a fresh clone before the study ran: one line and exit 2, not a traceback
        print(f"crysense: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def _row(name, label, probs, width):
    return f"{name:<{width}}  {label:<10}" + "".join(f"{probs[lab]:>12.3f}" for lab in LABELS)


def classify(args, clf=None) -> int:
    clf = clf or _classifier(args)
    results, failed = [], 0
    for f in args.files:
        try:
            results.append(clf.classify_file(f))
        except AudioError as e:
            failed += 1
            results.append({"file": f, "error": e.reason})
            print(f"error: {e}", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        width = max(len(r["file"]) for r in results)
        print(f"{'file':<{width}}  {'label':<10}" + "".join(f"{'p_' + lab:>12}" for lab in LABELS))
        for r in results:
            print(f"{r['file']:<{width}}  ERROR: {r['error']}" if "error" in r else
                  _row(r["file"], r["label"], r["probabilities"], width))
    return 1 if failed else 0


def _event_line(event, as_json: bool) -> str:
    what = "alert on" if event.on else "alert off"
    if as_json:
        return json.dumps({"event": what, "time_s": event.time_s, "p": event.p, "reason": event.reason})
    return f"{'':>8}{event.time_s:8.1f} s  {what.upper()} ({event.reason})"


# the first bytes of audio files that are not raw PCM (a common mistake: piping the file instead of ffmpeg's output)
FILE_MAGIC = {b"RIFF": "WAV", b"ID3": "MP3", b"fLaC": "FLAC", b"OggS": "Ogg", b"caff": "CAF", b"\xff\xfb": "MP3"}


def window_problem(x: np.ndarray) -> str | None:
    """Why a window of stream audio should not be classified (the checks ``classify`` applies to files), or None:
    near-silence, and full-scale noise that is no recording (random bytes, or a compressed file read as PCM)."""
    if rms_dbfs(x) < AUDIO.silence_dbfs:
        return f"near-silent (below {AUDIO.silence_dbfs:g} dBFS): not classified"
    if np.mean(np.abs(x) > 0.5) > 0.3:   # uniform random bytes: half the samples; loud real audio: a few per cent
        return "not audio (full-scale noise: random bytes, or a compressed file read as raw PCM?): not classified"
    return None


def stream(args, clf=None, stdin=None) -> int:
    """Windows of raw PCM from stdin, each classified and printed, and the alert events the rule
    (`crysense.serving.alerts`) raises on them. A window that fails the file checks (near-silent, not audio) is
    printed as such and counts as a bad window for the alert."""
    clf = clf or _classifier(args)
    shipped = alerts.shipped_rule(args.models or get_paths().models)
    rule = alerts.AlertRule(n=shipped.n if args.alert_n is None else args.alert_n,
                            m=shipped.m if args.alert_m is None else args.alert_m,
                            threshold=shipped.threshold if args.threshold is None else args.threshold,
                            min_gap_s=args.min_gap)
    state = alerts.AlertState()
    chunker = StreamChunker(WindowParams(args.window, args.hop))
    source = stdin or sys.stdin.buffer
    sr, end_s = AUDIO.sample_rate, 0.0

    def report(windows):
        for start, x in windows:
            if (problem := window_problem(x)) is not None:
                end = round(start + len(x) / sr, 3)
                print(json.dumps({"start_s": start, "end_s": end, "error": problem}) if args.json else
                      f"{f'{start:8.1f}-{end:.1f}s':<18}  ERROR: {problem}", flush=True)
                p = None
            else:
                w = clf.classify_window(x, start)
                print(json.dumps({"start_s": w.start_s, "end_s": w.end_s, "label": w.label,
                                  "probabilities": w.probabilities}) if args.json else
                      _row(f"{w.start_s:8.1f}-{w.end_s:.1f}s", w.label, w.probabilities, 18), flush=True)
                p = w.probabilities[rule.label]
            if (event := alerts.step(rule, state, p, start)) is not None:
                print(_event_line(event, args.json), flush=True)

    if not args.json:
        print(f"{'window':<18}  {'label':<10}" + "".join(f"{'p_' + lab:>12}" for lab in LABELS), flush=True)
    head = source.read(2 * sr)
    if kind := next((k for magic, k in FILE_MAGIC.items() if head.startswith(magic)), None):
        print(f"error: standard input is a {kind} file, not raw 16 kHz s16le PCM: pipe it through "
              "'ffmpeg -i FILE -f s16le -ac 1 -ar 16000 -', or use 'classify FILE'", file=sys.stderr)
        return 1
    for samples in pcm_blocks(source, 1.0, sr, first=head):
        end_s += len(samples) / sr
        report(chunker.push(samples))
    report(chunker.flush())
    if (event := alerts.finish(state, round(end_s, 3))) is not None:
        print(_event_line(event, args.json), flush=True)
    return 0


def main(argv=None) -> int:
    args = _args(argv)
    return {"classify": classify, "stream": stream}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
