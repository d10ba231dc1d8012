"""The one early-stopping loop every model's fine-tuning runs (YAMNet's two stages, Wav2Vec2/HuBERT).

A run is defined by epochs and a seed, never by wall time: the same data and seed give the same model on
any machine, however busy. Early stopping watches the validation loss; the best epoch's weights are restored.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..config import progress_bar


def fit(run_epoch: Callable[[int], dict], evaluate: Callable[[], dict] | None, snapshot: Callable[[], object],
        restore: Callable[[object], None], epochs: int, patience: int, desc: str = "train", progress: bool = True,
        min_delta: float = 1e-4, history: list | None = None, extra: dict | None = None,
        evaluate_first: bool = False) -> tuple[list[dict], float]:
    """Run up to ``epochs`` epochs; after each, ``evaluate()`` (a dict with ``val_loss``) decides early stopping.

    ``run_epoch(epoch)`` trains one epoch and returns its training metrics. Without ``evaluate`` every epoch
    runs and the last weights stay. Returns (history rows, best validation loss; inf without validation).
    ``history``: a list to append to (several stages share one); ``extra``: fields added to every row.
    ``evaluate_first``: the weights before training are a candidate too (epoch 0), e.g. a head fitted as a probe.
    """
    history = [] if history is None else history
    best_loss, best_state, bad = np.inf, None, 0
    first = len(history)
    if evaluate_first and evaluate is not None:
        history.append({**(extra or {}), "epoch": first, **evaluate()})
        best_loss, best_state = history[-1]["val_loss"], snapshot()
    for epoch in progress_bar(range(1, epochs + 1), desc=desc, show=progress):
        row = {**(extra or {}), "epoch": first + epoch, **run_epoch(epoch)}
        if evaluate is not None:
            row.update(evaluate())
        history.append(row)
        if evaluate is None:
            continue
        if row["val_loss"] < best_loss - min_delta:
            best_loss, best_state, bad = row["val_loss"], snapshot(), 0
        else:
            bad += 1
            if bad >= patience:
                break
    if best_state is not None:
        restore(best_state)
    return history, best_loss
