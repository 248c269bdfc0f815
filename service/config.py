"""One typed, frozen settings object, read from ``CLASSIFIER_*`` environment variables.

Settings are read inside the app factory (never at import time) so that tests and the CLI can build their
own without touching the process environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PREFIX = "CLASSIFIER_"


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

    models_dir: Path = field(default=REPO_ROOT / "models", metadata={"doc": "Folder of <name>/<version>/ models."})
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
            raw = environ.get(PREFIX + f.name.upper())
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
