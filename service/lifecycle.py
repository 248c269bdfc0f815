"""Process state the HTTP layer reports: whether this worker is stopping (``/readyz`` then answers 503).

Set by the gunicorn worker when it receives SIGTERM; read by the readiness view. No Flask, no gunicorn here.
"""

from __future__ import annotations

import threading

_draining = threading.Event()


def start_draining() -> None:
    """This process stops accepting work: readiness turns false so balancers send nothing new."""
    _draining.set()


def draining() -> bool:
    return _draining.is_set()
