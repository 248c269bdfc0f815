"""Quality of the shipped models, measured through the service's own path (registry -> TFLite -> preprocessing
from bytes) on ../shared/data. Slow: CI runs them; ``-m 'not slow'`` skips them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from service.inference import ModelRegistry
from service.inference.registry import discover
from tests.conftest import MODELS_DIR, SHARED_DATA


pytestmark = pytest.mark.slow


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared data sets live in <repo>/../shared/data)")
    return path


def shipped(name: str):
    if not (MODELS_DIR / name).is_dir():
        pytest.fail(f"models/{name} is not shipped")
    return ModelRegistry.from_directory(MODELS_DIR, (name,)).get(name)


def accuracy_from_bytes(model, files: list[Path], labels: np.ndarray, batch: int = 64) -> float:
    """Decode and preprocess each file exactly as a request would be, then classify in batches."""
    correct = 0
    for start in range(0, len(files), batch):
        inputs = [model.prepare(p.read_bytes(), 50_000_000) for p in files[start:start + batch]]
        predictions = model.classify(inputs)
        correct += sum(int(p.index == y) for p, y in zip(predictions, labels[start:start + batch], strict=True))
    return 100.0 * correct / len(files)


def test_mnist_test_accuracy_at_least_99_5():
    data = need(SHARED_DATA / "mnist" / "mnist.npz")
    model = shipped("mnist")
    assert model.runtime_name == "tflite"
    with np.load(data) as d:
        x, y = d["x_test"].astype(np.float32)[..., None] / 255.0, d["y_test"]
    predicted = np.concatenate([model.predict(x[i:i + 500]).argmax(axis=1) for i in range(0, len(x), 500)])
    accuracy = 100.0 * float(np.mean(predicted == y))
    assert accuracy >= 99.5  # served int8; version 8 (version 7's weights) measures 99.52%
    assert accuracy == pytest.approx(model.manifest.raw["metrics"]["test_accuracy"], abs=0.01)


# The floor for the shipped flowers model (the reference flowers_cnn reaches about 74-75%).
FLOWERS_FLOOR = 85.0


def test_flowers_validation_accuracy_beats_the_reference_and_matches_manifest():
    root = need(SHARED_DATA / "flowers")
    from training.datasets import list_images, split_indices

    model = shipped("flowers")
    data_info = model.manifest.raw["data"]
    labels, files, targets = list_images(root)
    assert labels == list(model.labels)
    _, val = split_indices(len(files), data_info["validation_split"], data_info["split_seed"])
    accuracy = accuracy_from_bytes(model, [files[i] for i in val], targets[val])
    assert accuracy >= FLOWERS_FLOOR
    assert accuracy > model.manifest.raw["metrics"]["reference_flowers_cnn"]["validation_accuracy"]
    # The service's path (bytes -> decode -> resize) gives the figure the export measured.
    assert accuracy == pytest.approx(model.manifest.raw["metrics"]["validation_accuracy"], abs=0.5)


def test_mugs_eval_accuracy_and_recorded_train_only_figure():
    root = need(SHARED_DATA / "mugs")
    from training.datasets import list_images

    model = shipped("mugs")
    assert list(model.labels) == ["white", "black", "blue", "transparent"]
    _, files, targets = list_images(root / "eval")
    accuracy = accuracy_from_bytes(model, files, targets)
    assert accuracy >= 93.0
    held_out = model.manifest.raw["metrics"]["train_only"]["eval_accuracy"]
    assert held_out >= 93.0  # the figure measured before eval/ joined the training set


@pytest.mark.parametrize("name", ["mnist", "flowers", "mugs"])
def test_manifest_records_all_tflite_variants(name):
    newest = discover(MODELS_DIR, (name,))
    if name not in newest:
        pytest.fail(f"models/{name} is not shipped")
    manifest = json.loads((newest[name] / "manifest.json").read_text())
    variants = manifest["metrics"]["tflite"]
    assert set(variants) == {"float32", "float16", "int8"}
    served = manifest["metrics"]["tflite_served"]
    key = next(k for k in variants["float32"] if k.endswith("_accuracy"))
    assert variants[served][key] >= variants["float32"][key] - 0.5
    close_enough = [v["bytes"] for v in variants.values() if v[key] >= variants["float32"][key] - 0.5]
    assert variants[served]["bytes"] == min(close_enough)
