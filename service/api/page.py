"""``GET /`` and ``GET /train``: the pages for people, static files from the app's ``static/`` folder.

The pages only call the public API from the browser, so nothing here is on the API's request path.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app

bp = Blueprint("page", __name__)


@bp.get("/")
def index() -> Response:
    return current_app.send_static_file("index.html")


@bp.get("/train")
def train() -> Response:
    return current_app.send_static_file("train.html")
