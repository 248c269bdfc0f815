"""The micro-batcher: every caller gets its own row back, batches never exceed max_batch, errors reach everyone."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from service.inference.batching import MicroBatcher


class SlowDouble:
    """A runtime that doubles its input, slowly enough that concurrent callers queue, and records batch sizes."""

    def __init__(self, fail: bool = False) -> None:
        self.sizes: list[int] = []
        self.fail = fail
        self.gate = threading.Event()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.sizes.append(len(batch))
        self.gate.wait(0.05)  # hold the runtime so that the other callers queue behind the first call
        if self.fail:
            raise RuntimeError("runtime broke")
        return batch * 2


def _call_concurrently(batcher: MicroBatcher, count: int) -> tuple[dict[int, object], list[threading.Thread]]:
    results: dict[int, object] = {}

    def worker(i: int) -> None:
        try:
            results[i] = batcher(np.full((3,), i, np.float32))
        except RuntimeError as exc:
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results, threads


def test_each_caller_gets_its_own_row_and_batches_form_under_load():
    runtime = SlowDouble()
    results, threads = _call_concurrently(MicroBatcher(runtime, max_batch=4), 12)
    assert not any(t.is_alive() for t in threads)
    for i in range(12):
        np.testing.assert_array_equal(results[i], np.full((3,), 2 * i, np.float32))
    assert sum(runtime.sizes) == 12
    assert max(runtime.sizes) <= 4
    assert max(runtime.sizes) > 1  # the callers that queued behind the first call shared later calls


def test_single_caller_is_a_batch_of_one():
    runtime = SlowDouble()
    runtime.gate.set()
    out = MicroBatcher(runtime)(np.ones((2, 2), np.float32))
    assert out.shape == (2, 2) and runtime.sizes == [1]


def test_a_failing_runtime_raises_in_every_caller():
    results, threads = _call_concurrently(MicroBatcher(SlowDouble(fail=True), max_batch=8), 6)
    assert not any(t.is_alive() for t in threads)
    assert all(isinstance(r, RuntimeError) for r in results.values()) and len(results) == 6


def test_max_batch_must_be_positive():
    with pytest.raises(ValueError):
        MicroBatcher(lambda b: b, max_batch=0)
