"""Liveness and readiness that tell the truth: ready only when every expected model is loaded in this worker."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from service import lifecycle
from service.api import registry

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="alive")


@bp.get("/readyz")
def readyz() -> Response:
    reg = registry()
    stopping = lifecycle.draining()
    ready = reg.ready and not stopping
    body = {"status": "ready" if ready else "stopping" if stopping else "not ready", "models": reg.names()}
    if reg.errors:
        body["errors"] = reg.errors  # also failed versions while the others serve (status 200)
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    return response
