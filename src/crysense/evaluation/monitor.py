"""Streaming evaluation: what a monitor would do with hours of sound, measured where carers care.

Long streams are built from one split only: every *normal* clip of the split, shuffled and joined (several
seeded orders), and the same background with **cry episodes** inserted every minute or two (the crying clips of
one baby or recording joined to at least 20 s). Each stream is cut into the service's windows, every system
(member or combiner) gives p(crying) per window, and the alert rule (`crysense.serving.alerts`, the service's own code)
runs over them. Figures: false alerts per hour of normal audio, the share of episodes that raised an alert, and
the latency from an episode's onset to the alert (a window's decision comes when its last sample has arrived).

The operating point (threshold, n, m) is chosen on validation streams for a target false-alert rate, then
reported once on test streams.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools

import numpy as np
import pandas as pd

from ..config import AUDIO, LABELS, progress_bar
from ..serving.alerts import AlertRule, AlertState, step
from ..serving.streaming import WindowParams, window_bounds

SR = AUDIO.sample_rate


@dataclasses.dataclass(frozen=True)
class StreamSpec:
    orders: int = 3                   # seeded shuffles of the split's normal clips
    episode_min_s: float = 20.0       # a cry episode: one group's crying clips joined, at least this long
    seed: int = 0


@dataclasses.dataclass
class Stream:
    name: str
    samples: np.ndarray
    episodes: list[tuple[float, float, str]]   # (start_s, end_s, group) of inserted crying; [] for background

    @property
    def hours(self) -> float:
        return len(self.samples) / SR / 3600


def episode_groups(df: pd.DataFrame, split: str, min_s: float) -> dict[str, pd.DataFrame]:
    """Crying groups (babies, recordings) of ``split`` holding at least ``min_s`` of audio: their clips, in order,
    up to the first that reaches ``min_s``."""
    crying = df[(df["split"] == split) & (df["label"] == "crying")]
    out = {}
    for group, d in crying.groupby("group", sort=True):
        total = d["duration_s"].cumsum()
        if total.iloc[-1] >= min_s:
            out[group] = d.iloc[: int(np.searchsorted(total.to_numpy(), min_s)) + 1]
    return out


def build_streams(df: pd.DataFrame, split: str, loader, spec: StreamSpec = StreamSpec(),
                  hop_s: float = 5.0) -> list[Stream]:
    """For each seeded order: the background stream (every normal clip of ``split``, shuffled and joined), and
    the same background with every eligible cry episode inserted once, evenly spaced (at whole hops, so the
    windows between episodes are the background's own)."""
    normal = df[(df["split"] == split) & (df["label"] == "normal")]
    groups = episode_groups(df, split, spec.episode_min_s)
    episodes = {g: np.concatenate([loader.load_row(r) for _, r in rows.iterrows()]) for g, rows in groups.items()}
    hop = int(hop_s * SR)
    streams = []
    for k in range(spec.orders):
        rng = np.random.default_rng([spec.seed, k])
        background = np.concatenate([loader.load_row(normal.iloc[i]) for i in rng.permutation(len(normal))])
        streams.append(Stream(f"{split} order {k}: normal only", background, []))
        order = [list(episodes)[i] for i in rng.permutation(len(episodes))]
        cuts = np.linspace(0, len(background), len(order) + 2)[1:-1].astype(int) // hop * hop
        parts, inserted, t, last = [], [], 0, 0
        for g, cut in zip(order, cuts):
            cry = episodes[g][: len(episodes[g]) // hop * hop]          # whole hops: later windows stay aligned
            parts += [background[last:cut], cry]
            t += cut - last
            inserted.append((t / SR, (t + len(cry)) / SR, g))
            t += len(cry)
            last = cut
        parts.append(background[last:])
        streams.append(Stream(f"{split} order {k}: with {len(order)} cry episodes", np.concatenate(parts), inserted))
    return streams


def window_probabilities(streams: list[Stream], members: dict, window: WindowParams = WindowParams(),
                         progress: bool = True, prepare=None) -> pd.DataFrame:
    """One row per (stream, window): its start, and every member's probabilities. ``members``: name ->
    fn(window) -> probabilities over LABELS, the window as ``prepare`` gives it from its 16 kHz samples (the
    `inference.Classifier`'s; default: the samples). A window whose samples were already classified (the same
    background stretch in another stream) is not computed again."""
    seen: dict[str, dict] = {}
    rows = []
    total = sum(len(window_bounds(len(s.samples), window)) for s in streams)
    with progress_bar(total=total, desc="stream windows", show=progress) as bar:
        for s in streams:
            for a, b in window_bounds(len(s.samples), window):
                x = s.samples[a:b]
                key = hashlib.sha256(x.tobytes()).hexdigest()
                if key not in seen:
                    inputs = prepare(x) if prepare else x
                    seen[key] = {m: np.asarray(fn(inputs), float) for m, fn in members.items()}
                rows.append({"stream": s.name, "start_s": a / SR, "end_s": b / SR, **{f"{m}|{lab}": p[i] for m, p in
                             seen[key].items() for i, lab in enumerate(LABELS)}})
                bar.update(1)
    return pd.DataFrame(rows)


def system_probabilities(windows: pd.DataFrame, members: list[str], ensemble=None) -> dict[str, np.ndarray]:
    """p over LABELS per window for every member and every combiner of ``ensemble``."""
    probas = {m: windows[[f"{m}|{lab}" for lab in LABELS]].to_numpy() for m in members}
    out = dict(probas)
    if ensemble is not None:
        out.update({f"ensemble: {c}": ensemble.combine(c, probas) for c in ensemble.combiners()})
    return out


def evaluate(windows: pd.DataFrame, p_label: np.ndarray, streams: list[Stream], rule: AlertRule) -> dict:
    """False alerts per hour on the background streams; episode recall and latency on the episode streams.

    An episode is caught when the alert is on at a decision time between its onset and one window after its end
    (the last window holding its audio); latency runs from the onset to that decision (0 when an earlier alert
    was still on)."""
    by_stream = {s.name: s for s in streams}
    window_s = float((windows["end_s"] - windows["start_s"]).max())
    false_alerts, hours, latencies, n_episodes, stray = 0, 0.0, [], 0, 0
    for name, idx in windows.groupby("stream", sort=False).indices.items():
        s, state = by_stream[name], AlertState()
        decide = windows["end_s"].to_numpy()[idx]
        on = np.zeros(len(idx), bool)
        onsets = []
        for i, (t, p) in enumerate(zip(decide, p_label[idx])):
            if (event := step(rule, state, float(p), t)) is not None and event.on:
                onsets.append(t)
            on[i] = state.on
        if not s.episodes:
            false_alerts += len(onsets)
            hours += s.hours
            continue
        for start, end, _ in s.episodes:
            n_episodes += 1
            caught = np.flatnonzero(on & (decide >= start) & (decide <= end + window_s))
            if len(caught):
                latencies.append(max(0.0, decide[caught[0]] - start))
        stray += sum(not any(a <= t <= b + window_s for a, b, _ in s.episodes) for t in onsets)
    lat = np.array(latencies)
    return {"false_alerts_per_hour": false_alerts / hours if hours else np.nan, "false_alerts": false_alerts,
            "normal_hours": hours, "episodes": n_episodes,
            "episode_recall": len(lat) / n_episodes if n_episodes else np.nan,
            "latency_median_s": float(np.median(lat)) if len(lat) else np.nan,
            "latency_p95_s": float(np.percentile(lat, 95)) if len(lat) else np.nan,
            "false_alerts_in_episode_streams": stray}


RULE_GRID = {"threshold": [round(x, 2) for x in np.arange(0.3, 0.96, 0.05)],
             "nm": [(1, 1), (2, 2), (2, 3), (3, 3), (3, 4), (3, 5), (4, 5), (4, 6)]}


def sweep(windows: pd.DataFrame, probas: dict[str, np.ndarray], streams: list[Stream], label: str = "crying",
          grid: dict = RULE_GRID) -> pd.DataFrame:
    """Every system under every rule of the grid: the trade-off between false alerts and missed episodes."""
    k = LABELS.index(label)
    rows = []
    for system, p in probas.items():
        for threshold, (n, m) in itertools.product(grid["threshold"], grid["nm"]):
            rule = AlertRule(n=n, m=m, threshold=threshold, label=label)
            rows.append({"system": system, "threshold": threshold, "n": n, "m": m,
                         **evaluate(windows, p[:, k], streams, rule)})
    return pd.DataFrame(rows)


def choose(sweep_table: pd.DataFrame, system: str, max_false_alerts_per_hour: float = 1.0) -> pd.Series:
    """The operating point of ``system``: among rules within the false-alert target, the highest episode recall,
    then the fewest false alerts, the lowest median latency, the highest threshold. When no rule meets the target,
    the one with the fewest false alerts, flagged (``meets_target`` False)."""
    d = sweep_table[sweep_table["system"] == system]
    ok = d[d["false_alerts_per_hour"] <= max_false_alerts_per_hour]
    if ok.empty:
        best = d.sort_values(["false_alerts_per_hour", "episode_recall"], ascending=[True, False]).iloc[0].copy()
        best["meets_target"] = False
        return best
    best = ok.sort_values(["episode_recall", "false_alerts_per_hour", "latency_median_s", "threshold"],
                          ascending=[False, True, True, False]).iloc[0].copy()
    best["meets_target"] = True
    return best


def evaluate_chosen(windows: pd.DataFrame, probas: dict[str, np.ndarray], streams: list[Stream],
                    chosen: pd.DataFrame, label: str = "crying") -> pd.DataFrame:
    """Each system at its own chosen rule (a row of ``chosen``: threshold, n, m), e.g. on the test streams."""
    k = LABELS.index(label)
    rows = {}
    for system, p in probas.items():
        r = chosen.loc[system]
        rule = AlertRule(n=int(r["n"]), m=int(r["m"]), threshold=float(r["threshold"]), label=label)
        rows[system] = {**evaluate(windows, p[:, k], streams, rule), "threshold": r["threshold"], "n": r["n"], "m": r["m"]}
    return pd.DataFrame(rows).T


def operating_point(val_row: pd.Series, system: str, test: pd.Series, target: float) -> dict:
    """What ships with the models (``models/operating_point.json``): the rule, and what it measured."""
    return {"system": system, "threshold": float(val_row["threshold"]), "n": int(val_row["n"]), "m": int(val_row["m"]),
            "label": "crying", "target_false_alerts_per_hour": target,
            "meets_target_on_validation": bool(val_row["meets_target"]),
            "validation": {k: float(val_row[k]) for k in ("false_alerts_per_hour", "episode_recall", "latency_median_s")},
            "test": {k: float(test[k]) for k in ("false_alerts_per_hour", "normal_hours", "episode_recall", "episodes",
                                                 "latency_median_s", "latency_p95_s")}}


def plot_tradeoff(val_sweep: pd.DataFrame, chosen: pd.DataFrame, test: pd.DataFrame, systems: list[str],
                  target: float):
    """False alerts per hour vs episode recall on validation streams, every rule of the grid per system; the
    validation-chosen point (circle) and where it landed on test (star)."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 5.5))
    cmap = plt.get_cmap("tab10")
    for k, system in enumerate(systems):
        d = val_sweep[val_sweep["system"] == system]
        ax.scatter(d["false_alerts_per_hour"], d["episode_recall"], s=8, alpha=0.35, color=cmap(k))
        c, t = chosen.loc[system], test.loc[system]
        ax.scatter(c["false_alerts_per_hour"], c["episode_recall"], s=90, facecolors="none", edgecolors=cmap(k), lw=2,
                   label=f"{system}: t={c['threshold']:.2f}, {int(c['n'])} of {int(c['m'])}")
        ax.scatter(t["false_alerts_per_hour"], t["episode_recall"], s=140, marker="*", color=cmap(k))
    ax.axvline(target, color="k", ls=":", lw=1)
    ax.set(xscale="symlog", xlabel="false alerts per hour of normal audio", ylabel="cry episodes caught",
           ylim=(-0.02, 1.02), title="validation streams: every rule (dots), the chosen one (circle); test (star)")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
