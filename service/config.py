"""One typed, frozen settings object, read from ``CLASSIFIER_*`` environment variables.

Settings are read inside the app factory (never at import time) so that tests and the CLI can build their
own without touching the process environment.
"""

from __future__ import annotations

import os
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PREFIX = "CLASSIFIER_"
DIST_NAME = "image-classification-service"


def asset_dir(name: str) -> Path:
    """``models`` or ``templates``: the checkout's folder, else the copy ``pip install`` put under ``share/``.

    A checkout (``pyproject.toml`` beside the package) wins, so training output and edits are served at once.
    """
    if (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / name).is_dir():
        return REPO_ROOT / name
    return Path(sysconfig.get_path("data")) / "share" / DIST_NAME / name


def _parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _parse_names(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(",") if name.strip())


@dataclass(frozen=True)
class Settings:
    """Everything an operator can tune; each field maps to ``CLASSIFIER_<FIELD NAME IN CAPITALS>``."""

    models_dir: Path = field(
        default_factory=lambda: asset_dir("models"), metadata={"doc": "Folder of <name>/<version>/ models."}
    )
    models: tuple[str, ...] = field(
        default=(), metadata={"doc": "Comma-separated model names to load; empty loads every model found."}
    )
    default_model: str = field(default="mnist", metadata={"doc": "Model used by /predict without ?model=."})
    max_upload_bytes: int = field(
        default=10 * 1024 * 1024, metadata={"doc": "Largest request body accepted; larger answers 413."}
    )
    max_pixels: int = field(
        default=40_000_000,
        metadata={"doc": "Largest decoded image (width x height), checked from the header before decoding."},
    )
    inference_threads: int = field(default=1, metadata={"doc": "LiteRT threads per model per worker."})
    log_level: str = field(default="INFO", metadata={"doc": "Python logging level name."})
    max_batch: int = field(
        default=64, metadata={"doc": "Most images or tensors one request may send (protocol batches); more is 413."}
    )
    log_format: str = field(
        default="text", metadata={"doc": "'text' (one readable line) or 'json' (one JSON object per line)."}
    )
    # Server knobs, read by gunicorn.conf.py (which parses nothing itself).
    host: str = field(default="0.0.0.0", metadata={"doc": "Address gunicorn binds.", "env": ("HOST",)})
    port: int = field(default=8080, metadata={"doc": "Port gunicorn binds.", "env": ("PORT",)})
    workers: int = field(
        default=2, metadata={"doc": "gunicorn worker processes (each loads every model).", "env": ("WEB_CONCURRENCY",)}
    )
    worker_class: str = field(
        default="service.http_worker.BufferingThreadWorker",
        metadata={"doc": "gunicorn worker class (the default is gthread that buffers whole requests first)."},
    )
    threads: int = field(default=4, metadata={"doc": "Threads per gunicorn worker (gthread)."})
    timeout: int = field(default=60, metadata={"doc": "Seconds before a silent worker is killed and restarted."})
    graceful_timeout: int = field(default=20, metadata={"doc": "Seconds a worker gets to finish on shutdown."})
    keepalive: int = field(default=5, metadata={"doc": "Seconds an idle keep-alive connection stays open."})
    access_log: bool = field(
        default=True, metadata={"doc": "One access line per request (costs ~0.1-0.25 ms CPU per request)."}
    )
    preimport: bool = field(
        default=True, metadata={"doc": "The gunicorn master imports the serving libraries before forking."}
    )
    metrics: bool = field(
        default=True,
        metadata={"doc": "Count every request for Prometheus (GET /metrics); 0: no counting and no /metrics."},
    )
    metrics_dir: str = field(
        default="",
        metadata={"doc": "Folder for Prometheus' multiprocess files; empty: a fresh temporary folder per server.",
                  "env": ("PROMETHEUS_MULTIPROC_DIR",)},
    )
    reload_seconds: float = field(
        default=1.0,
        metadata={"doc": "How often each worker looks for new, changed or removed versions and default changes "
                         "(seconds; 0 turns it off)."},
    )
    keep_versions: int = field(
        default=5, metadata={"doc": "Versions kept per model after a publish; the oldest non-default go first."}
    )
    state_dir: Path = field(
        default=REPO_ROOT / "var", metadata={"doc": "Folder of the service's own state (the training jobs' SQLite)."}
    )
    train_concurrency: int = field(default=1, metadata={"doc": "Training jobs run at once; the others wait queued."})
    broker_url: str = field(
        default="",
        metadata={"doc": "redis://HOST:PORT/DB: run training jobs on Celery workers (make worker) instead of "
                         "local processes."},
    )
    admin_token: str = field(
        default="",
        metadata={"doc": "Bearer token for training, cancelling and promoting; empty: only loopback clients may."},
    )
    max_decoded_bytes: int = field(
        default=24 * 1024 * 1024,
        metadata={"doc": "Largest decoded image in bytes (width x height x channels x bytes per sample), from the header."},
    )
    request_timeout: float = field(
        default=10.0, metadata={"doc": "Seconds a request may take from its arrival (queueing included); then 503."}
    )
    header_timeout: float = field(
        default=10.0, metadata={"doc": "Seconds a client has to send the request line and headers; then 408."}
    )
    body_timeout: float = field(
        default=60.0, metadata={"doc": "Seconds a client has to send the request body after its headers; then 408."}
    )
    control_socket: str = field(
        default="",
        metadata={"doc": "Path of gunicorn's control socket for this instance; empty: none (the default path is "
                         "shared by every instance of a user)."},
    )
    worker_buffer_bytes: int = field(
        default=64 * 1024 * 1024,
        metadata={"doc": "Request bytes one worker buffers for clients still sending; beyond, new uploads get 503."},
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``); keyword overrides win over the environment."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            names = (PREFIX + f.name.upper(), *f.metadata.get("env", ()))
            raw = next((environ[name] for name in names if name in environ), None)
            if raw is None:
                continue
            try:
                values[f.name] = _convert(f.type, raw)
            except ValueError as exc:
                raise ValueError(f"{PREFIX}{f.name.upper()}: {exc}") from None
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def documentation(cls) -> dict[str, str]:
        """Environment variable -> description, for the README and ``--help`` texts."""
        return {PREFIX + f.name.upper(): f.metadata.get("doc", "") for f in fields(cls)}


def _convert(type_name: object, raw: str) -> object:
    # ``from __future__ import annotations`` makes field types strings.
    kind = str(type_name)
    if kind == "Path":
        return Path(raw)
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        return _parse_bool(raw)
    if kind.startswith("tuple"):
        return _parse_names(raw)
    return raw
