"""Which versions of a model this service has, and their state, in TF Serving's words (AVAILABLE, LOADING, END).

The one place the protocols (TF Serving's version status, KServe's model metadata) and the metrics ask it; the
registry serves one version per model, the newest, so that is the one version reported.
"""

from __future__ import annotations

from service.errors import ModelNotFound
from service.inference import Model, ModelRegistry

AVAILABLE, LOADING, END = "AVAILABLE", "LOADING", "END"


def served_versions(registry: ModelRegistry, name: str) -> list[tuple[str, str]]:
    """[(version, state)] of model ``name``, newest first; ModelNotFound if the service has no such model."""
    model = registry.get(name)
    return [(model.manifest.version, AVAILABLE)]


def model_version(registry: ModelRegistry, name: str, version: str | None) -> Model:
    """The model that serves ``name`` at ``version`` (None: the default one); ModelNotFound with the versions held."""
    model = registry.get(name)
    if version is None or version == model.manifest.version:
        return model
    held = ", ".join(v for v, state in served_versions(registry, name) if state == AVAILABLE)
    raise ModelNotFound(f"model {name!r} has no version {version!r}; available versions: {held}")
