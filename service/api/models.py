"""``GET /api/v1/models[/<name>]``: what is served, from each model's manifest."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from service.api import registry

bp = Blueprint("models", __name__)


@bp.get("/api/v1/models")
def list_models() -> Response:
    return jsonify(models=[dict(model.manifest.summary(), runtime=model.runtime_name) for model in registry()])


@bp.get("/api/v1/models/<name>")
def get_model(name: str) -> Response:
    model = registry().get(name)
    return jsonify(dict(model.manifest.summary(), runtime=model.runtime_name))
