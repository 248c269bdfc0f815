"""The per-model manifest (``models/<name>/<version>/manifest.json``): what the service needs to serve a model.

Only the fields read at serving time are typed here; the rest (metrics, training config, checksums) is kept
verbatim in ``raw`` and shown by ``/api/v1/models``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.errors import ModelLoadError

MANIFEST_NAME = "manifest.json"
PREPROCESSORS = ("mnist", "rgb")


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    labels: tuple[str, ...]
    input_shape: tuple[int, ...]  # one example, e.g. (28, 28, 1) or (180, 180, 3)
    preprocessing: str  # "mnist" (photo -> MNIST convention) or "rgb" (squash resize, float32 in [0, 255])
    output: str  # "logits" or "probabilities"
    files: dict[str, str]  # format -> file name, e.g. {"tflite": "model.tflite", "keras": "model.keras"}
    directory: Path
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # Divides the logits before the softmax so scores are calibrated probabilities (fitted on held-out data).
    temperature: float = 1.0

    @classmethod
    def load(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST_NAME
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot read {path}: {exc}") from exc
        return cls.from_dict(raw, directory)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], directory: Path) -> Manifest:
        try:
            manifest = cls(
                name=str(raw["name"]),
                version=str(raw["version"]),
                labels=tuple(str(label) for label in raw["labels"]),
                input_shape=tuple(int(d) for d in raw["input"]["shape"]),
                preprocessing=str(raw["preprocessing"]["kind"]),
                output=str(raw.get("output", "logits")),
                files=dict(raw["files"]),
                directory=directory,
                raw=raw,
                temperature=float(raw.get("calibration", {}).get("temperature", 1.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"invalid manifest in {directory}: missing or bad field {exc}") from exc
        if manifest.preprocessing not in PREPROCESSORS:
            raise ModelLoadError(f"{directory}: unknown preprocessing {manifest.preprocessing!r}")
        if manifest.output not in ("logits", "probabilities"):
            raise ModelLoadError(f"{directory}: output must be 'logits' or 'probabilities'")
        if not manifest.temperature > 0:
            raise ModelLoadError(f"{directory}: calibration.temperature must be positive")
        return manifest

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of the network input."""
        return self.input_shape[0], self.input_shape[1]

    @property
    def input_range(self) -> tuple[float, float]:
        """(low, high) of the network input's values, so that a picture of it can be drawn."""
        declared = self.raw.get("input", {}).get("range")
        if isinstance(declared, (list, tuple)) and len(declared) == 2:
            return float(declared[0]), float(declared[1])
        return (0.0, 1.0) if self.preprocessing == "mnist" else (0.0, 255.0)

    def summary(self) -> dict[str, Any]:
        """The public description served by ``/api/v1/models``."""
        return {
            "name": self.name,
            "version": self.version,
            "labels": list(self.labels),
            "input": self.raw.get("input", {"shape": list(self.input_shape)}),
            "preprocessing": self.raw.get("preprocessing", {"kind": self.preprocessing}),
            "output": self.output,
            "metrics": self.raw.get("metrics", {}),
            "calibration": self.raw.get("calibration"),
            "ood": self.raw.get("ood"),
            "created": self.raw.get("created"),
        }
