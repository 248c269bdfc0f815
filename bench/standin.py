"""Build stand-in models (same input shapes and manifests as the real ``mnist`` and ``flowers``) for the benchmark.

Why: the benchmark measures the request path, not accuracy, and must run before (or without) the trained models.
The networks mirror the shipped models' architectures (a small digit CNN; the TF-tutorial flowers CNN with rescaling inside)
with untrained weights, exported to .keras and .tflite next to a manifest the service reads unchanged.

    .venv/bin/python -m bench.standin --out bench/.work/standin-models
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime, timezone
from pathlib import Path

FLOWER_LABELS = ["daisy", "dandelion", "roses", "sunflowers", "tulips"]


def _digit_network():
    import keras

    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10),
    ])


def _flowers_network():
    import keras

    return keras.Sequential([
        keras.Input((180, 180, 3)),
        keras.layers.Rescaling(1.0 / 255),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(5),
    ])


def export(model, directory: Path, manifest: dict) -> None:
    """Write model.keras, model.tflite and manifest.json into ``directory``."""
    import tensorflow as tf

    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory / "model.keras")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    (directory / "model.tflite").write_bytes(converter.convert())
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def build(out: Path) -> None:
    """Build both stand-ins under ``out``/<name>/1/."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    common = {"version": "1", "output": "logits", "files": {"tflite": "model.tflite", "keras": "model.keras"},
              "created": created, "metrics": {}, "training": {"note": "benchmark stand-in, untrained weights"}}
    export(_digit_network(), out / "mnist" / "1", dict(
        common, name="mnist", task="handwritten digit", labels=[str(d) for d in range(10)],
        input={"shape": [28, 28, 1], "dtype": "float32", "range": [0, 1]}, preprocessing={"kind": "mnist"}))
    export(_flowers_network(), out / "flowers" / "1", dict(
        common, name="flowers", task="flower photo", labels=FLOWER_LABELS,
        input={"shape": [180, 180, 3], "dtype": "float32", "range": [0, 255]},
        preprocessing={"kind": "rgb", "size": [180, 180], "resize": "squash", "color": "RGB", "range": [0, 255]}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / ".work" / "standin-models")
    args = parser.parse_args(argv)
    build(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
