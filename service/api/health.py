"""Liveness and readiness that tell the truth: ready only when every expected model is loaded in this worker."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from service.api import registry

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="alive")


@bp.get("/readyz")
def readyz() -> Response:
    reg = registry()
    body = {"status": "ready" if reg.ready else "not ready", "models": reg.names()}
    if reg.errors:
        body["errors"] = reg.errors  # also failed versions while the others serve (status 200)
    response = jsonify(body)
    response.status_code = 200 if reg.ready else 503
    return response
