"""One error shape for the whole API: ``{"error": message, "code": slug, "status": n}``, or an HTML page for browsers.

Every error is logged once here, at WARNING for the client's mistakes and ERROR (with the traceback) for ours.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from service.errors import ServiceError

log = logging.getLogger("service.errors")

_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
          415: "unsupported_media_type", 422: "invalid_config", 500: "internal_error"}


def wants_html() -> bool:
    """A browser asks for HTML first; curl, requests and API clients get JSON."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html" and request.accept_mimetypes["text/html"] > request.accept_mimetypes["application/json"]


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                   details: dict[str, object] | None = None) -> Response:
    if wants_html():
        response = Response(render_template("error.html", status=status, message=message), status=status)
    else:
        response = jsonify({"error": message, "code": code, "status": status, **(details or {})})
        response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError) -> Response:
        if exc.status >= 500:
            log.error("%s %s -> %d %s", request.method, request.path, exc.status, exc.message, exc_info=exc)
        else:
            log.warning("%s %s -> %d %s", request.method, request.path, exc.status, exc.message)
        return error_response(exc.status, exc.code, exc.message, getattr(exc, "headers", None), details=exc.details)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = _http_message(exc)
        log.warning("%s %s -> %d %s", request.method, request.path, status, message)
        headers = {"Allow": ", ".join(exc.valid_methods)} if getattr(exc, "valid_methods", None) else None
        return error_response(status, _CODES.get(status, "http_error"), message, headers)

    for parse_error in _server_parse_errors():
        @app.errorhandler(parse_error)
        def malformed_request(exc: Exception) -> Response:
            # The server found the body malformed while the view read it (e.g. a bad chunk size): the client's fault.
            message = f"the request body is malformed: {exc}"
            log.warning("%s %s -> 400 %s", request.method, request.path, message)
            return error_response(400, "bad_request", message, {"Connection": "close"})

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception) -> Response:
        log.error("%s %s -> 500 unexpected error", request.method, request.path, exc_info=exc)
        return error_response(500, "internal_error", "internal server error; the incident was logged")


def _server_parse_errors() -> tuple[type[Exception], ...]:
    """gunicorn's own exception for a malformed request, when the app runs under gunicorn."""
    try:
        from gunicorn.http.errors import ParseException
    except ImportError:
        return ()
    return (ParseException,)


def _http_message(exc: HTTPException) -> str:
    if exc.code == 404:
        return f"no such endpoint: {request.path}"
    if exc.code == 405:
        allowed = ", ".join(sorted(getattr(exc, "valid_methods", None) or []))
        return f"method {request.method} is not allowed on {request.path}; use {allowed}"
    if exc.code == 413:
        limit = request.max_content_length
        return f"the request body is larger than the limit of {limit:,} bytes" if limit else "request too large"
    return exc.description or exc.name
