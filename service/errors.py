"""One error hierarchy for the whole service and CLI: each error carries its HTTP status and a stable code.

Nothing here imports Flask, so the inference layer and the CLI raise the same errors the API turns into JSON.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: a message a person understands, an HTTP status and a machine-readable code."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        # Extra keys for the JSON answer (the score that decided a refusal, say).
        self.details = dict(details or {})

    def to_dict(self) -> dict[str, object]:
        return {"error": self.message, "code": self.code, "status": self.status, **self.details}


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


class NotADigit(ServiceError):
    """A valid image that shows no handwritten digit, sent to a digit model (422; ``/mnist/classify`` says 404)."""

    status = 422
    code = "not_a_digit"

    def __init__(self, **kwargs: object) -> None:
        super().__init__("no handwritten digit found in the image", **kwargs)  # type: ignore[arg-type]


class ModelLoadError(ServiceError):
    status = 500
    code = "model_load_error"


class Unauthorized(ServiceError):
    """A privileged action without credentials (answered with ``WWW-Authenticate: Bearer``)."""

    status = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="classifier"'}


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class Conflict(ServiceError):
    """The request is valid but the resource's state does not allow it now (e.g. cancelling a finished job)."""

    status = 409
    code = "conflict"


class JobNotFound(ServiceError):
    status = 404
    code = "job_not_found"


class RequestTimeout(ServiceError):
    """The per-request time limit ran out (typically while waiting for a free thread): retry later."""

    status = 503
    code = "request_timeout"
