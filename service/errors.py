"""One error hierarchy for the whole service and CLI: each error carries its HTTP status and a stable code.

Nothing here imports Flask, so the inference layer and the CLI raise the same errors the API turns into JSON.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: a message a person understands, an HTTP status and a machine-readable code."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, object]:
        return {"error": self.message, "code": self.code, "status": self.status}


class BadRequest(ServiceError):
    status = 400
    code = "bad_request"


class InvalidImage(BadRequest):
    """The bytes are not an image we can decode (empty, truncated, corrupt)."""

    code = "invalid_image"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ServiceError):
    status = 415
    code = "unsupported_media_type"


class ModelNotFound(ServiceError):
    status = 404
    code = "model_not_found"


class InvalidConfig(ServiceError):
    """A training or model configuration that is missing or has invalid fields."""

    status = 422
    code = "invalid_config"


class ModelLoadError(ServiceError):
    status = 500
    code = "model_load_error"


class RequestTimeout(ServiceError):
    """The per-request time limit ran out (typically while waiting for a free thread): retry later."""

    status = 503
    code = "request_timeout"
