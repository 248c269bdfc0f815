"""``GET /openapi.json`` (the hand-kept document in ``service.api.openapi``) and ``GET /docs/`` (Swagger UI).

Swagger UI's files come from the pinned flask-swagger-ui package and are served by this service: the page works
offline, with no CDN.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify
from flask_swagger_ui import get_swaggerui_blueprint

from service.api.openapi import document

bp = Blueprint("openapi", __name__)


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(get_swaggerui_blueprint(
        "/docs", "/openapi.json", config={"app_name": "Image classification service API", "deepLinking": True}))
