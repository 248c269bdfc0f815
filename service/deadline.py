"""A per-request time limit that the request's own thread checks between stages.

Why cooperative: a gthread worker cannot stop a thread, and gunicorn's ``timeout`` only catches a stuck worker
process. Instead the web layer starts the clock when the request has fully arrived (so time spent waiting for a
thread counts), and the inference layer calls ``check()`` before each costly stage: a request that can no longer
be answered in time is refused with 503 instead of occupying a thread, and a queue that grows under overload
drains quickly. Each stage itself is bounded by the size and memory limits. No Flask here.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

from service.errors import RequestTimeout

ARRIVAL_KEY = "classifier.arrival"  # WSGI environ key: time.monotonic() when the whole request had arrived

_deadline: ContextVar[tuple[float, float] | None] = ContextVar("request_deadline", default=None)


def start(arrived_at: float, limit_seconds: float) -> None:
    """Start this request's clock (a limit of 0 or less disables it)."""
    _deadline.set((arrived_at, limit_seconds) if limit_seconds > 0 else None)


def clear() -> None:
    _deadline.set(None)


def check(stage: str) -> None:
    """Raise ``RequestTimeout`` (503) if this request's time is up before ``stage``."""
    current = _deadline.get()
    if current is None:
        return
    arrived_at, limit = current
    elapsed = time.monotonic() - arrived_at
    if elapsed > limit:
        raise RequestTimeout(
            f"the server is overloaded: {elapsed:.1f} s had passed before {stage}, over the limit of {limit:g} s "
            "per request; retry later"
        )
