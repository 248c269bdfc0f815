"""Who may train, cancel and promote: a bearer token when ``CLASSIFIER_ADMIN_TOKEN`` is set, else loopback only.

Prediction stays open; these actions change what is served or spend minutes of CPU, so they are privileged.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import request

from service.api import settings
from service.errors import Forbidden, Unauthorized

F = TypeVar("F", bound=Callable[..., object])


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def check_privileged() -> None:
    """Raise 401/403 unless the request may change what is trained or served."""
    token = settings().admin_token
    if not token:
        if not _is_loopback(request.remote_addr):
            raise Forbidden("training, cancelling and promoting are only open to loopback clients while "
                            "CLASSIFIER_ADMIN_TOKEN is not set; set it and send 'Authorization: Bearer <token>'")
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Unauthorized("this action needs 'Authorization: Bearer <token>' (the server's CLASSIFIER_ADMIN_TOKEN)")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Forbidden("the bearer token is not valid")


def privileged(view: F) -> F:
    @wraps(view)
    def wrapper(*args, **kwargs):
        check_privileged()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
