"""Serve a model file that did not come with this project (``classify --model-path model.tflite``, ``.onnx``...).

A bundled model is described by its manifest; an external file is described from what can be found: a
``manifest.json`` beside it if there is one, otherwise a labels file plus what the file says about itself (its input
shape), and one probe call that tells logits from probabilities. The result is an ordinary ``Model``, so the
external file goes through exactly the same decode, preprocessing and prediction code as a bundled one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from service.errors import ModelLoadError
from service.inference.manifest import MANIFEST_NAME, Manifest
from service.inference.model import Model
from service.inference.runtimes import Runtime, format_of


def read_labels(path: Path) -> tuple[str, ...]:
    """Labels from a JSON list or a text file with one label per line (blank lines ignored)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"cannot read the labels file {path}: {exc}") from None
    if path.suffix.lower() == ".json":
        try:
            labels = json.loads(text)
        except ValueError as exc:
            raise ModelLoadError(f"the labels file {path} is not valid JSON: {exc}") from None
        if not isinstance(labels, list):
            raise ModelLoadError(f"the labels file {path} must hold a JSON list of names")
    else:
        labels = [line.strip() for line in text.splitlines() if line.strip()]
    if not labels:
        raise ModelLoadError(f"the labels file {path} holds no labels")
    return tuple(str(label) for label in labels)


def load_external_model(model_path: Path, labels_path: Path | None = None, num_threads: int = 1) -> Model:
    """Load a model file of any format in ``runtimes.FORMATS`` as a ``Model``; ModelLoadError with the reason."""
    model_format = format_of(model_path)
    fmt = model_format.name
    if not model_path.is_file():
        raise ModelLoadError(f"no such model file: {model_path}")
    runtime = model_format.load(model_path, num_threads)
    beside = model_path.parent / MANIFEST_NAME
    if beside.is_file() and labels_path is None:
        manifest = Manifest.load(model_path.parent)
        raw = dict(manifest.raw, files={fmt: model_path.name})
    else:
        if labels_path is None:
            raise ModelLoadError(
                f"{model_path.name} has no {MANIFEST_NAME} beside it: give its class names with --labels FILE"
            )
        raw = describe(model_path, runtime, read_labels(labels_path), fmt)
    manifest = Manifest.from_dict(raw, model_path.parent)
    _check_outputs(manifest, runtime)
    return Model(manifest, runtime, fmt)


def describe(model_path: Path, runtime: Runtime, labels: tuple[str, ...], fmt: str) -> dict[str, Any]:
    """A manifest for a bare model file: preprocessing chosen from its input shape, output kind from a probe."""
    shape = tuple(runtime.input_shape)
    if len(shape) == 2:
        shape = (*shape, 1)
    if len(shape) != 3 or shape[2] not in (1, 3):
        raise ModelLoadError(f"{model_path.name}: input shape {shape} is not an image (HxWx1 or HxWx3)")
    if shape[2] == 1:
        if shape[:2] != (28, 28):
            raise ModelLoadError(f"{model_path.name}: grayscale models must take 28x28 (MNIST) input, not {shape}")
        preprocessing: dict[str, Any] = {"kind": "mnist"}
        value_range = [0, 1]
    else:
        preprocessing = {"kind": "rgb", "size": list(shape[:2]), "resize": "squash", "color": "RGB", "range": [0, 255]}
        value_range = [0, 255]
    return {
        "name": model_path.stem,
        "version": "external",
        "task": "external model file",
        "labels": list(labels),
        "input": {"shape": list(shape), "dtype": "float32", "range": value_range},
        "preprocessing": preprocessing,
        "output": _probe_output_kind(runtime, shape, value_range[1]),
        "files": {fmt: model_path.name},
    }


def _probe_output_kind(runtime: Runtime, shape: tuple[int, ...], top: float) -> str:
    """'probabilities' if outputs for a blank and a noise input are non-negative rows summing to 1, else 'logits'.

    A softmax applied twice would flatten every score, and logits shown as scores would leave [0, 1]: guessing
    wrong either way is visible to users, and real logits almost never form two probability rows by chance.
    """
    rng = np.random.default_rng(0)
    batch = np.stack([np.zeros(shape, np.float32), rng.uniform(0, top, shape).astype(np.float32)])
    outputs = np.asarray(runtime.predict(batch), dtype=np.float64)
    is_distribution = bool(np.all(outputs >= 0) and np.all(outputs <= 1) and np.allclose(outputs.sum(-1), 1, atol=1e-3))
    return "probabilities" if is_distribution else "logits"


def _check_outputs(manifest: Manifest, runtime: Runtime) -> None:
    """Fail at load, not on the first image, when the labels do not match the model's outputs."""
    outputs = runtime.predict(np.zeros((1, *manifest.input_shape), np.float32))
    count = int(np.asarray(outputs).shape[-1])
    if count != len(manifest.labels):
        raise ModelLoadError(
            f"{manifest.name}: the model has {count} outputs but {len(manifest.labels)} labels were given"
        )
