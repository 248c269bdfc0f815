"""A greedy micro-batcher: concurrent single-image predictions of one worker share one runtime call.

Why: a photo network takes milliseconds per image, and LiteRT runs a batch of 2-4 images about 10% cheaper
per image than one at a time (``bench/batch_cost.py``); under load the gthread worker's threads queue on the
runtime anyway. Greedy means no waiting: whoever finds the runtime free takes everything queued (up to
``max_batch``), so a batch forms only from requests that already wait, and an idle server adds no latency.
For the digit network (about 0.1 ms per image) it gains nothing, so the model uses it for photo models only
(measured: ``bench/batching_ab.py``, ``bench/README.md``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np


class _Job:
    __slots__ = ("done", "error", "output", "x")

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self.output: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False


class MicroBatcher:
    """``batcher(x) -> output row``: one input of shape ``input_shape`` in, its row of ``predict(batch)`` out."""

    def __init__(self, predict: Callable[[np.ndarray], np.ndarray], max_batch: int = 8) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._predict = predict
        self._max_batch = max_batch
        self._queue_lock = threading.Lock()
        self._run_lock = threading.Lock()  # one runtime call at a time; its holder serves the queue
        self._pending: list[_Job] = []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        job = _Job(x)
        with self._queue_lock:
            self._pending.append(job)
        while not job.done:
            with self._run_lock:
                # Whoever held the lock before may have run this job in its batch; it finished before releasing.
                if job.done:
                    break
                with self._queue_lock:
                    batch = self._pending[: self._max_batch]
                    del self._pending[: self._max_batch]
                self._run(batch)
        if job.error is not None:
            raise job.error
        assert job.output is not None
        return job.output

    def _run(self, batch: list[_Job]) -> None:
        try:
            outputs = self._predict(np.stack([job.x for job in batch]))
            if len(outputs) != len(batch):
                raise RuntimeError(f"the runtime answered {len(outputs)} rows for a batch of {len(batch)}")
        except BaseException as exc:  # every waiting request must learn of the failure, not hang
            for job in batch:
                job.error, job.done = exc, True
            return
        for job, output in zip(batch, outputs, strict=True):
            job.output, job.done = output, True
