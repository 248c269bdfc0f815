"""A loaded model: its manifest, its runtime, and the preprocessing its manifest names."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from service import deadline
from service.errors import BadRequest, ModelLoadError
from service.inference.batching import MicroBatcher
from service.inference.gate import DigitGate
from service.inference.manifest import Manifest
from service.inference.runtimes import FORMATS, Runtime
from service.preprocessing import decode_image, to_mnist, to_rgb_input
from service.preprocessing.digits import WORK_SIDE

log = logging.getLogger(__name__)

# Called after every runtime call with (model, batch size, seconds): how the web layer's metrics see inference
# without this layer importing them. Empty for the CLI, so it costs one list check per batch there.
InferenceObserver = Callable[["Model", int, float], None]
INFERENCE_OBSERVERS: list[InferenceObserver] = []


@dataclass(frozen=True)
class Prediction:
    index: int
    label: str
    probability: float
    probabilities: np.ndarray  # float32 (classes,), sums to 1
    # False when a digit model's gate decided the image shows no handwritten digit (the label is then only the
    # network's best guess, and the API answers "not a digit").
    recognised: bool = True
    # The network's input for this answer (what the model was shown), when it came from an image.
    input: np.ndarray | None = None


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    if temperature != 1.0:
        logits = logits / temperature
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
        self.gate = DigitGate.from_manifest(manifest.raw)

    @classmethod
    def load(cls, manifest: Manifest, num_threads: int = 1) -> Model:
        """Load the first usable weights in the order of ``FORMATS``: TFLite if listed (fast, light), ONNX, Keras."""
        errors = []
        for fmt in FORMATS:
            filename = manifest.files.get(fmt.name)
            if not filename:
                continue
            path = manifest.directory / filename
            if not path.is_file():
                errors.append(f"{path} is missing")
                continue
            try:
                runtime = fmt.load(path, num_threads)
            except ModelLoadError as exc:
                errors.append(exc.message)
                log.warning("model %s: %s; trying the next format", manifest.name, exc.message)
                continue
            return cls(manifest, runtime, fmt.name)
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
        """(N, *input_shape) float32 -> (N, classes) calibrated probabilities."""
        return self.calibrated(self.outputs(batch))

    def outputs(self, batch: np.ndarray) -> np.ndarray:
        """(N, *input_shape) float32 -> (N, classes) raw network outputs (logits or probabilities)."""
        start = time.perf_counter()
        outputs = self.runtime.predict(batch)
        for observer in INFERENCE_OBSERVERS:
            observer(self, len(batch), time.perf_counter() - start)
        return outputs

    def calibrated(self, outputs: np.ndarray) -> np.ndarray:
        """Raw outputs -> probabilities, divided by the manifest's calibration temperature."""
        temperature = self.manifest.temperature
        if self.manifest.output == "logits":
            return softmax(outputs, temperature)
        if temperature == 1.0:
            return outputs
        return softmax(np.log(np.maximum(outputs, 1e-12)), temperature)

    def check_tensor(self, array: np.ndarray) -> np.ndarray:
        """A client's preprocessed batch -> float32 (N, *input_shape); BadRequest that says what was expected.

        A missing trailing channel axis of 1 (a grayscale (N, 28, 28) batch) is accepted and added.
        """
        shape = self.manifest.input_shape
        if array.ndim == len(shape) and shape[-1] == 1 and tuple(array.shape[1:]) == shape[:-1]:
            array = array[..., np.newaxis]
        if array.ndim != len(shape) + 1 or tuple(array.shape[1:]) != shape:
            expected = ", ".join(str(d) for d in shape)
            raise BadRequest(
                f"model {self.name} takes tensors of shape [N, {expected}] (batch first); got {list(array.shape)}"
            )
        if array.dtype.kind not in "fiu":
            raise BadRequest(f"model {self.name} takes numbers; got values of type {array.dtype}")
        batch = np.asarray(array, dtype=np.float32)
        if not np.isfinite(batch).all():
            raise BadRequest("the tensor holds NaN or infinite values")
        return batch

    def to_prediction(self, probabilities: np.ndarray, x: np.ndarray | None = None,
                      outputs: np.ndarray | None = None) -> Prediction:
        """The answer for one input; its network input ``x`` and raw ``outputs`` let a digit model's gate decide."""
        index = int(np.argmax(probabilities))
        recognised = self.gate is None or x is None or outputs is None or self.gate.accepts(x, outputs)
        return Prediction(index, self.labels[index], float(probabilities[index]), probabilities, recognised, x)

    def classify(self, inputs: list[np.ndarray]) -> list[Prediction]:
        """Preprocessed inputs -> one prediction each, in one runtime call."""
        if not inputs:
            return []
        outputs = self.outputs(np.stack(inputs))
        probabilities = self.calibrated(outputs)
        return [self.to_prediction(p, x, o) for p, x, o in zip(probabilities, inputs, outputs, strict=True)]

    def classify_bytes(self, data: bytes, max_pixels: int, max_decoded_bytes: int | None = None) -> Prediction:
        """One request's image: decoded and preprocessed here, classified with concurrent requests if batching."""
        deadline.check("decoding the image")
        x = self.prepare(data, max_pixels, max_decoded_bytes)
        deadline.check("running the model")
        if self._batcher is None:
            return self.classify([x])[0]
        return self.to_prediction(self._batcher(x), x)
