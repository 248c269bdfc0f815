"""One log format for gunicorn's lines, its access lines and the application's: text, or one JSON object per line.

Every line carries the request id of the request it belongs to (``-`` outside a request). The web layer puts the id
in ``request_id`` for the thread that serves the request; gunicorn's access line is written after the app returned,
so its id is read from the response's ``X-Request-ID`` header instead. No Flask here: gunicorn's master uses it too.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar

from gunicorn.glogging import Logger as _GunicornLogger

from service.config import Settings

request_id: ContextVar[str] = ContextVar("request_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s [id=%(request_id)s]"
# gunicorn's access message (``access_log_format``): request line, status, bytes and the duration in seconds.
ACCESS_FORMAT = '%(h)s "%(r)s" %(s)s %(B)s %(L)ss'


def _access_atoms(record: logging.LogRecord) -> Mapping[str, object] | None:
    """gunicorn passes its access-log fields (status, duration, headers...) as the record's mapping argument."""
    if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
        return record.args
    return None


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id``; installed on handlers, so it sees propagated records too."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_id.get()
        atoms = _access_atoms(record)
        if atoms is not None:
            rid = str(atoms["{x-request-id}o"])  # gunicorn's atoms answer '-' for a missing header
        record.request_id = rid
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; access lines carry method, path, status, bytes and duration as fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        atoms = _access_atoms(record)
        if atoms is not None:
            entry.update(
                method=atoms["m"], path=atoms["U"], status=int(str(atoms["s"])), bytes=atoms["B"],
                duration_ms=round(int(str(atoms["D"])) / 1000, 3), remote=atoms["h"],
            )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    if log_format == "text":
        return logging.Formatter(TEXT_FORMAT)
    raise ValueError(f"log format must be 'text' or 'json', not {log_format!r}")


def configure_logging(level: str, log_format: str = "text") -> None:
    """Application lines to stdout in the chosen format (once per process: a second call changes only the level)."""
    root = logging.getLogger()
    if not any(getattr(handler, "_classifier", False) for handler in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler._classifier = True  # type: ignore[attr-defined]
        handler.setFormatter(formatter(log_format))
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    root.setLevel(level.upper())
    # python-multipart logs a warning for each malformed upload before raising; the service answers that upload
    # with a clear error and logs it once itself.
    logging.getLogger("python_multipart").setLevel(logging.ERROR)


class GunicornLogger(_GunicornLogger):
    """gunicorn's logger with this service's format on its error and access lines (``logger_class``)."""

    def setup(self, cfg) -> None:  # type: ignore[no-untyped-def]
        super().setup(cfg)
        fmt = formatter(Settings.from_env().log_format)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(fmt)
                handler.addFilter(RequestIdFilter())
