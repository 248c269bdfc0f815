"""The per-request time limit at the HTTP edge: shed requests that waited too long, start the clock for the rest.

The clock starts when the whole request had arrived (the gunicorn worker puts that moment in the WSGI environ;
under another server, when the view starts). Health probes are exempt: an overloaded worker is still alive.
"""

from __future__ import annotations

import time

from flask import Flask, request

from service import deadline

_EXEMPT = ("/healthz", "/readyz")


def register_request_limits(app: Flask, limit_seconds: float) -> None:
    @app.before_request
    def start_clock() -> None:
        if request.path in _EXEMPT:
            deadline.clear()
            return
        deadline.start(request.environ.get(deadline.ARRIVAL_KEY) or time.monotonic(), limit_seconds)
        deadline.check("the request was handled")

    @app.teardown_request
    def stop_clock(_exc: BaseException | None) -> None:
        deadline.clear()
