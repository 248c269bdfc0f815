"""``GET /api/v1/models[/<name>]``: what is served, from each model's manifest, with every version's state;
``POST /api/v1/models/<name>/versions/<v>/promote`` changes the default (privileged; also how to roll back)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from service.api import registry
from service.api.auth import privileged

bp = Blueprint("models", __name__)


@bp.get("/api/v1/models")
def list_models() -> Response:
    return jsonify(models=[dict(model.manifest.summary(), runtime=model.runtime_name) for model in registry()])


@bp.get("/api/v1/models/<name>")
def get_model(name: str) -> Response:
    reg = registry()
    versions = reg.describe(name)
    body = dict(reg.get(name).manifest.summary(), runtime=reg.get(name).runtime_name) if name in reg else {"name": name}
    return jsonify(dict(body, **versions))


@bp.post("/api/v1/models/<name>/versions/<version>/promote")
@privileged
def promote(name: str, version: str) -> Response:
    reg = registry()
    previous = reg.default_version(name)
    reg.promote(name, version)
    return jsonify(name=name, default_version=reg.default_version(name), previous_default=previous)
