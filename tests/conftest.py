"""Fixtures: settings -> app -> client, with fake models so HTTP tests do not depend on model files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from service import create_app
from service.config import REPO_ROOT, Settings
from service.inference import Manifest, Model, ModelRegistry

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
MODELS_DIR = REPO_ROOT / "models"


class FixedRuntime:
    """A runtime that always favours one class; records the batches it was given."""

    def __init__(self, winner: int, classes: int) -> None:
        self.winner, self.classes = winner, classes
        self.batches: list[np.ndarray] = []

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(batch)
        logits = np.zeros((batch.shape[0], self.classes), np.float32)
        logits[:, self.winner] = 8.0
        return logits


def fake_model(name: str, labels: list[str], shape: list[int], kind: str, winner: int, directory: Path) -> Model:
    raw = {
        "name": name,
        "version": "1",
        "labels": labels,
        "input": {"shape": shape},
        "preprocessing": {"kind": kind} if kind == "mnist" else {"kind": kind, "size": shape[:2]},
        "output": "logits",
        "files": {},
        "metrics": {"accuracy": 0.5},
    }
    return Model(Manifest.from_dict(raw, directory), FixedRuntime(winner, len(labels)), "fake")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(models_dir=tmp_path / "models", max_upload_bytes=1024 * 1024, max_pixels=4_000_000)


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(
        {
            "mnist": fake_model("mnist", [str(d) for d in range(10)], [28, 28, 1], "mnist", 7, tmp_path),
            "flowers": fake_model(
                "flowers", ["daisy", "dandelion", "roses", "sunflowers", "tulips"], [180, 180, 3], "rgb", 2, tmp_path
            ),
        }
    )


@pytest.fixture
def app(settings: Settings, registry: ModelRegistry):
    app = create_app(settings, registry)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def encode(image: np.ndarray, ext: str = ".png", params: list[int] | None = None) -> bytes:
    ok, buf = cv2.imencode(ext, image, params or [])
    assert ok
    return buf.tobytes()


@pytest.fixture(scope="session")
def digit_png() -> bytes:
    """A synthetic photo-like 7: dark ink on light paper, 200x200."""
    image = np.full((200, 200), 235, np.uint8)
    cv2.line(image, (60, 50), (140, 50), 30, 12)
    cv2.line(image, (140, 50), (90, 160), 30, 12)
    return encode(image)


@pytest.fixture(scope="session")
def photo_jpeg() -> bytes:
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 255, (800, 1000, 3), dtype=np.uint8), (9, 9), 0)
    return encode(image, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90])
