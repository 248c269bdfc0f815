"""Which versions of a model this service has, and their state, in TF Serving's words (AVAILABLE, LOADING, END).

The one place the protocols (TF Serving's version status, KServe's model metadata) and the metrics ask it. The
registry's states map as TF Serving's do: a version being loaded is LOADING, a served one AVAILABLE, and one that
failed to load is END (never served; its reason is kept).
"""

from __future__ import annotations

from flask import g

from service.inference import Model, ModelRegistry
from service.inference.registry import AVAILABLE as SERVED
from service.inference.registry import LOADING as BEING_LOADED

AVAILABLE, LOADING, END = "AVAILABLE", "LOADING", "END"
_STATES = {SERVED: AVAILABLE, BEING_LOADED: LOADING}


def served_versions(registry: ModelRegistry, name: str) -> list[tuple[str, str]]:
    """[(version, state)] of model ``name``, newest first; ModelNotFound if the service has no such model."""
    infos = registry.versions(name)
    return [(info.version, _STATES.get(info.state, END)) for info in reversed(infos)]


def model_version(registry: ModelRegistry, name: str, version: str | None) -> Model:
    """The model that serves ``name`` at ``version`` (None: the default one), recorded for the request's metrics;
    ModelNotFound names what exists."""
    model = registry.get(name, version)
    g.model = model
    return model
