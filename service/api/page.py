"""``GET /`` and ``GET /train``: the pages for people, static files from the app's ``static/`` folder.

The pages only call the public API from the browser, so nothing here is on the API's request path. ``GET /`` is
also KServe's v1 liveness route: a client that does not ask for HTML gets its ``{"status": "alive"}``.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from service.api.errors import wants_html

bp = Blueprint("page", __name__)


@bp.get("/")
def index() -> Response:
    if not wants_html():
        return jsonify(status="alive")
    return current_app.send_static_file("index.html")


@bp.get("/train")
def train() -> Response:
    return current_app.send_static_file("train.html")
