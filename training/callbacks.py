"""Keras callbacks: per-epoch history with timings (logged and written beside the model), a tqdm progress bar on
stderr only when stderr is a terminal, and a hook for callers such as the API's training status."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import keras
from tqdm import tqdm

log = logging.getLogger(__name__)


class EpochHistory(keras.callbacks.Callback):
    """Records each epoch's metrics and wall time; logs one line per epoch; calls ``on_epoch`` if given."""

    def __init__(self, on_epoch: Callable[[dict[str, Any]], None] | None = None) -> None:
        super().__init__()
        self.epochs: list[dict[str, Any]] = []
        self._on_epoch = on_epoch
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        record = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - self._start, 2)}
        record.update({k: round(float(v), 6) for k, v in (logs or {}).items() if k != "learning_rate"})
        self.epochs.append(record)
        shown = " ".join(f"{k}={v:.4f}" for k, v in record.items() if k not in ("epoch", "seconds"))
        log.info("epoch %d/%d %.1fs %s", epoch + 1, self.params.get("epochs", 0), record["seconds"], shown)
        if self._on_epoch is not None:
            self._on_epoch(record)


class TqdmProgress(keras.callbacks.Callback):
    """Batch progress bar on stderr; disabled when stderr is not a terminal (logs and CI stay clean)."""

    def __init__(self, enabled: bool | None = None) -> None:
        super().__init__()
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: tqdm | None = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.enabled:
            self._bar = tqdm(total=self.params.get("steps"), desc=f"epoch {epoch + 1}/{self.params.get('epochs')}",
                             unit="batch", leave=False, file=sys.stderr)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self._bar is not None:
            self._bar.update(1)
            if logs and "loss" in logs:
                self._bar.set_postfix(loss=f"{float(logs['loss']):.4f}", refresh=False)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class BatchProgress(keras.callbacks.Callback):
    """Reports progress inside an epoch at most every ``every_seconds`` (a job's status shows it moving):
    ``report({"epoch", "step", "steps", "loss"})``; a report returning False stops training (cancelled)."""

    def __init__(self, report: Callable[[dict[str, Any]], bool], every_seconds: float = 2.0) -> None:
        super().__init__()
        self._report = report
        self._every = every_seconds
        self._epoch = 0
        self._last = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch + 1
        self._send(0, None)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if time.monotonic() - self._last >= self._every:
            self._send(batch + 1, float(logs["loss"]) if logs and "loss" in logs else None)

    def _send(self, step: int, loss: float | None) -> None:
        self._last = time.monotonic()
        update = {"epoch": self._epoch, "step": step, "steps": self.params.get("steps"), "loss": loss}
        if self._report(update) is False:
            self.model.stop_training = True
