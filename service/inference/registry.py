"""Discover ``models/<name>/<version>/manifest.json`` and load each model once per process.

Adding a model is adding a folder. The newest version (highest number, else the last in sort order) is served.
A model that fails to load is recorded, not fatal: the others are served and readiness tells the truth.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from service.errors import ModelLoadError, ModelNotFound
from service.inference.manifest import MANIFEST_NAME, Manifest
from service.inference.model import Model

log = logging.getLogger(__name__)


def _version_key(path: Path) -> tuple[int, int | str]:
    return (1, int(path.name)) if path.name.isdigit() else (0, path.name)


def discover(models_dir: Path, names: tuple[str, ...] = ()) -> dict[str, Path]:
    """name -> folder of its newest version, for every model folder holding a manifest."""
    found: dict[str, Path] = {}
    if not models_dir.is_dir():
        return found
    for model_dir in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        if names and model_dir.name not in names:
            continue
        versions = sorted((v for v in model_dir.iterdir() if (v / MANIFEST_NAME).is_file()), key=_version_key)
        if versions:
            found[model_dir.name] = versions[-1]
    return found


class ModelRegistry:
    """The process-wide set of loaded models (the only mutable global state the service has)."""

    def __init__(self, models: dict[str, Model] | None = None) -> None:
        self._models: dict[str, Model] = dict(models or {})
        self.errors: dict[str, str] = {}
        self.expected: set[str] = set(self._models)
        self.load_seconds: float = 0.0

    @classmethod
    def from_directory(cls, models_dir: Path, names: tuple[str, ...] = (), num_threads: int = 1) -> ModelRegistry:
        registry = cls()
        registry.load_directory(models_dir, names, num_threads)
        return registry

    def load_directory(self, models_dir: Path, names: tuple[str, ...] = (), num_threads: int = 1) -> None:
        start = time.perf_counter()
        found = discover(models_dir, names)
        self.expected |= set(found) | set(names)
        for missing in set(names) - set(found):
            self.errors[missing] = f"no model folder with a manifest under {models_dir / missing}"
        for name, directory in found.items():
            try:
                model = Model.load(Manifest.load(directory), num_threads)
            except ModelLoadError as exc:
                self.errors[name] = exc.message
                log.error("model %s not loaded: %s", name, exc.message)
                continue
            self._models[name] = model
            log.info("loaded model %s version %s (%s)", name, model.manifest.version, model.runtime_name)
        self.load_seconds = time.perf_counter() - start

    def add(self, model: Model) -> None:
        self._models[model.name] = model
        self.expected.add(model.name)

    @property
    def ready(self) -> bool:
        """True once every expected model is loaded (and at least one is)."""
        return bool(self._models) and self.expected <= set(self._models)

    def get(self, name: str) -> Model:
        try:
            return self._models[name]
        except KeyError:
            available = ", ".join(sorted(self._models)) or "none"
            raise ModelNotFound(f"unknown model {name!r}; available models: {available}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._models

    def __iter__(self):
        return iter(self._models.values())

    def names(self) -> list[str]:
        return sorted(self._models)
