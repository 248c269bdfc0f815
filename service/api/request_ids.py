"""Every request gets an id: the client's ``X-Request-ID`` if it is a sane token, else a new one.

The id is echoed in the response and, through ``service.logs.request_id``, printed on every log line of the request.
"""

from __future__ import annotations

import os
import re

from flask import Flask, Response, g, request

from service.logs import request_id

HEADER = "X-Request-ID"
_ACCEPTED = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")


def _before() -> None:
    incoming = request.headers.get(HEADER)
    rid = incoming if incoming and _ACCEPTED.fullmatch(incoming) else os.urandom(16).hex()
    g.request_id = rid
    request_id.set(rid)


def _after(response: Response) -> Response:
    rid = g.get("request_id")
    if rid:
        response.headers[HEADER] = rid
    return response


def _teardown(_exc: BaseException | None) -> None:
    request_id.set("-")


def init_app(app: Flask) -> None:
    app.before_request(_before)
    app.after_request(_after)
    app.teardown_request(_teardown)
