"""A loaded model: its manifest, its runtime, and the preprocessing its manifest names."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from service import deadline
from service.errors import ModelLoadError
from service.inference.batching import MicroBatcher
from service.inference.manifest import Manifest
from service.inference.runtimes import Runtime, load_runtime
from service.preprocessing import decode_image, to_mnist, to_rgb_input
from service.preprocessing.digits import WORK_SIDE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    index: int
    label: str
    probability: float
    probabilities: np.ndarray  # float32 (classes,), sums to 1


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


class Model:
    """What the API and the CLI call: bytes or decoded images in, predictions out."""

    def __init__(self, manifest: Manifest, runtime: Runtime, runtime_name: str) -> None:
        self.manifest = manifest
        self.runtime = runtime
        self.runtime_name = runtime_name
        # Photo networks take milliseconds per image, so a worker's concurrent requests share one runtime call;
        # digits (~0.1 ms) gain nothing from it (measured: bench/batching_ab.py).
        self._batcher = MicroBatcher(self.predict) if manifest.preprocessing == "rgb" else None

    @classmethod
    def load(cls, manifest: Manifest, num_threads: int = 1) -> Model:
        """Load the first usable weights: TFLite if listed (fast, light), else Keras."""
        errors = []
        for fmt in ("tflite", "keras"):
            filename = manifest.files.get(fmt)
            if not filename:
                continue
            path = manifest.directory / filename
            if not path.is_file():
                errors.append(f"{path} is missing")
                continue
            try:
                runtime = load_runtime(path, num_threads)
            except ModelLoadError as exc:
                errors.append(exc.message)
                log.warning("model %s: %s; trying the next format", manifest.name, exc.message)
                continue
            return cls(manifest, runtime, fmt)
        raise ModelLoadError(f"model {manifest.name}: no loadable weights ({'; '.join(errors) or 'none listed'})")

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def labels(self) -> tuple[str, ...]:
        return self.manifest.labels

    def decode(self, data: bytes, max_pixels: int, max_decoded_bytes: int | None = None) -> np.ndarray:
        """Decode at the cheapest resolution this model's preprocessing can use."""
        if self.manifest.preprocessing == "mnist":
            return decode_image(data, max_pixels=max_pixels, grayscale=True, min_side=WORK_SIDE,
                                max_decoded_bytes=max_decoded_bytes)
        return decode_image(data, max_pixels=max_pixels, min_side=min(self.manifest.image_size),
                            max_decoded_bytes=max_decoded_bytes)

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        """Decoded image -> one network input of the manifest's shape (float32)."""
        if self.manifest.preprocessing == "mnist":
            return to_mnist(image).reshape(self.manifest.input_shape)
        return to_rgb_input(image, self.manifest.image_size)

    def prepare(self, data: bytes, max_pixels: int, max_decoded_bytes: int | None = None) -> np.ndarray:
        """Bytes -> network input: decode once, preprocess once."""
        return self.preprocess(self.decode(data, max_pixels, max_decoded_bytes))

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """(N, *input_shape) float32 -> (N, classes) probabilities."""
        outputs = self.runtime.predict(batch)
        return softmax(outputs) if self.manifest.output == "logits" else outputs

    def to_prediction(self, probabilities: np.ndarray) -> Prediction:
        index = int(np.argmax(probabilities))
        return Prediction(index, self.labels[index], float(probabilities[index]), probabilities)

    def classify(self, inputs: list[np.ndarray]) -> list[Prediction]:
        """Preprocessed inputs -> one prediction each, in one runtime call."""
        if not inputs:
            return []
        probabilities = self.predict(np.stack(inputs))
        return [self.to_prediction(p) for p in probabilities]

    def classify_bytes(self, data: bytes, max_pixels: int, max_decoded_bytes: int | None = None) -> Prediction:
        """One request's image: decoded and preprocessed here, classified with concurrent requests if batching."""
        deadline.check("decoding the image")
        x = self.prepare(data, max_pixels, max_decoded_bytes)
        deadline.check("running the model")
        if self._batcher is None:
            return self.classify([x])[0]
        return self.to_prediction(self._batcher(x))
