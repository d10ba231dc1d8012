"""A live-style demo stream built from held-out test clips with known labels: normal, then crying, then
normal again, then screaming (so the alert should rise during the crying and fall after it)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from crysense.config import AUDIO

SR = AUDIO.sample_rate
SCENARIO = (("normal", 20.0), ("crying", 30.0), ("normal", 25.0), ("screaming", 10.0))


def demo_stream(df: pd.DataFrame, loader, seed: int = 0, scenario=SCENARIO) -> tuple[np.ndarray, pd.DataFrame]:
    """(samples, truth segments [label, start_s, end_s, clips]) from test clips, concatenated."""
    rng = np.random.default_rng(seed)
    test = df[df["split"] == "test"]
    parts, truth, t = [], [], 0.0
    for label, seconds in scenario:
        pool = test[test["label"] == label]
        got, clips = [], []
        while sum(len(g) for g in got) < seconds * SR and len(pool):
            row = pool.iloc[int(rng.integers(len(pool)))]
            got.append(loader.load_row(row))
            clips.append(row["file_path"])
        x = np.concatenate(got)[: int(seconds * SR)]
        parts.append(x)
        truth.append({"label": label, "start_s": t, "end_s": t + len(x) / SR, "clips": "; ".join(clips)})
        t += len(x) / SR
    return np.concatenate(parts).astype(np.float32), pd.DataFrame(truth)


def plot_stream(rows: pd.DataFrame, truth: pd.DataFrame, window_s: float, alert_label: str = "crying"):
    import matplotlib.pyplot as plt
    colors = {"crying": "#d62728", "screaming": "#9467bd", "normal": "#1f77b4"}
    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(12, 5), sharex=True, gridspec_kw={"height_ratios": [1, 2]})
    for _, seg in truth.iterrows():
        ax0.axvspan(seg["start_s"], seg["end_s"], color=colors[seg["label"]], alpha=0.35)
        ax0.text((seg["start_s"] + seg["end_s"]) / 2, 0.5, seg["label"], ha="center", va="center")
    ax0.set(yticks=[], title="ground truth (test clips) vs what the stream workflow said")
    mid = rows["start_s"] + window_s / 2
    for lab in colors:
        ax1.plot(mid, rows[f"p_{lab}"], marker="o", color=colors[lab], label=f"p({lab})")
    alert = rows["alert"].astype(bool)
    ax1.fill_between(mid, 0, 1, where=alert, step="mid", color="orange", alpha=0.25, label=f"{alert_label} alert")
    bad = rows["status"] == "error"
    ax1.scatter(mid[bad], np.full(bad.sum(), 0.5), marker="x", color="k", label="bad chunk")
    ax1.set(xlabel="stream time (s), window centres", ylabel="probability", ylim=(0, 1))
    ax1.legend(fontsize=8, ncol=5, loc="upper right")
    ax1.grid(alpha=0.3)
    fig.tight_layout()
    return fig


async def play(client, samples: np.ndarray, rule, window, audio, task_queue: str, speed: float,
               poll_s: float = 1.0) -> tuple[str, int, object, pd.DataFrame]:
    """Stream ``samples`` to a new stream workflow in 1 s blocks at ``speed`` x real time, querying its status every
    ``poll_s`` while the audio plays (what a dashboard would show). Returns the stream id, the windows sent, the
    workflow's summary and the status samples."""
    import asyncio
    import time
    import uuid

    from . import client as tclient
    from .workflow import StreamWorkflow
    stream_id = f"demo-{uuid.uuid4().hex[:6]}"
    handle = await tclient.start_stream(client, stream_id, rule, task_queue=task_queue)
    blocks = (samples[i:i + SR] for i in range(0, len(samples), SR))
    feeding = asyncio.create_task(tclient.stream_blocks(handle, blocks, window, audio, realtime_speed=speed))
    live, t0 = [], time.monotonic()
    while not feeding.done():
        s = await handle.query(StreamWorkflow.status)
        wall = time.monotonic() - t0
        live.append({"wall_s": round(wall, 1), "stream_s_sent": round(wall * speed, 1), "processed": s.processed,
                     "pending": len(s.pending), "alert": s.alert})
        await asyncio.sleep(poll_s)
    windows_sent = await feeding
    return stream_id, windows_sent, await tclient.stream_result(handle), pd.DataFrame(live)
