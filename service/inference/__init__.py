"""The inference layer: model discovery, runtimes and prediction. No Flask here; the API and the CLI share it."""

from service.inference.manifest import Manifest
from service.inference.model import Model, Prediction
from service.inference.registry import ModelRegistry

__all__ = ["Manifest", "Model", "ModelRegistry", "Prediction"]
