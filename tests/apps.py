"""WSGI apps for gunicorn tests that need a model with a known cost: ``gunicorn ... 'tests.apps:slow_app()'``."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from service import create_app
from service.config import Settings
from service.inference import ModelRegistry
from tests.conftest import fake_model


class SleepyRuntime:
    """Favours class 7 after sleeping ``CLASSIFIER_TEST_MODEL_SECONDS`` per call: a model of known cost."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def predict(self, batch: np.ndarray) -> np.ndarray:
        time.sleep(self.seconds)
        logits = np.zeros((batch.shape[0], 10), np.float32)
        logits[:, 7] = 8.0
        return logits


def slow_app():
    seconds = float(os.environ.get("CLASSIFIER_TEST_MODEL_SECONDS", "1"))
    model = fake_model("mnist", [str(d) for d in range(10)], [28, 28, 1], "mnist", 7, Path("."))
    model.runtime = SleepyRuntime(seconds)
    return create_app(Settings.from_env(), ModelRegistry({"mnist": model}))
