"""One small class per model format, all with ``predict(batch) -> outputs``, and ``FORMATS``, the one table of them.

LiteRT serves ``.tflite`` files in a fraction of a millisecond per image and imports in a fraction of a second;
ONNX Runtime serves ``.onnx`` files (models from other frameworks); TensorFlow/Keras is only a fallback for models
without either. Each runtime library is imported lazily, so a worker that serves TFLite never pays for the others.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from service.errors import ModelLoadError


class Runtime(Protocol):
    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example (no batch axis), e.g. (28, 28, 1); lets an external model file describe itself."""
        ...

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """float32 batch (N, *input_shape) -> raw outputs (N, classes)."""
        ...


class TFLiteRuntime:
    """LiteRT interpreter; thread-safe through a lock (an interpreter is not re-entrant)."""

    def __init__(self, path: Path, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"cannot load TFLite model {path}: {exc}") from exc
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._batch = int(self._input["shape"][0])
        self._lock = threading.Lock()

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self._input["shape"][1:])

    def predict(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=self._input["dtype"])
        with self._lock:
            if batch.shape[0] != self._batch:
                self._interpreter.resize_tensor_input(self._input["index"], batch.shape, strict=False)
                self._interpreter.allocate_tensors()
                self._batch = batch.shape[0]
            self._interpreter.set_tensor(self._input["index"], batch)
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._output["index"]).copy()


class KerasRuntime:
    """Keras fallback; calls the model directly (``model.predict`` costs milliseconds of overhead per call)."""

    def __init__(self, path: Path) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            import keras
        except ImportError as exc:  # serving-only installs do not have TensorFlow
            raise ModelLoadError(
                f"{path} needs TensorFlow/Keras, which is not installed (pip install -r requirements-train.txt)"
            ) from exc
        try:
            self._model = keras.models.load_model(path, compile=False)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot load Keras model {path}: {exc}") from exc
        self._lock = threading.Lock()

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self._model.input_shape[1:])

    def predict(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model(batch, training=False))


class OnnxRuntime:
    """ONNX Runtime on the CPU; its sessions are thread-safe, so no lock."""

    def __init__(self, path: Path, num_threads: int = 1) -> None:
        try:
            import onnxruntime
        except ImportError as exc:
            raise ModelLoadError(f"{path} needs onnxruntime, which is not installed (pip install onnxruntime)") from exc
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        try:
            self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types (InvalidProtobuf, Fail, NoSuchFile...)
            raise ModelLoadError(f"cannot load ONNX model {path}: {exc}") from exc
        first = self._session.get_inputs()[0]
        self._input_name = first.name
        dims = first.shape[1:]
        if not all(isinstance(d, int) for d in dims):
            raise ModelLoadError(f"{path.name}: the input shape {first.shape} must be fixed apart from the batch axis")
        self._shape = tuple(dims)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self._shape

    def predict(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        return np.asarray(self._session.run(None, {self._input_name: batch})[0])


@dataclass(frozen=True)
class Format:
    """A model file format: its key in a manifest's ``files``, its file suffixes, and how to load it."""

    name: str
    suffixes: tuple[str, ...]
    load: Callable[[Path, int], Runtime]


# In order of preference when a manifest lists several files for one model.
FORMATS: tuple[Format, ...] = (
    Format("tflite", (".tflite",), TFLiteRuntime),
    Format("onnx", (".onnx",), OnnxRuntime),
    Format("keras", (".keras", ".h5"), lambda path, _threads: KerasRuntime(path)),
)
SUFFIXES = ", ".join(suffix for fmt in FORMATS for suffix in fmt.suffixes)


def format_of(path: Path) -> Format:
    """The format of a model file, by its suffix; ModelLoadError naming the supported ones otherwise."""
    suffix = path.suffix.lower()
    for fmt in FORMATS:
        if suffix in fmt.suffixes:
            return fmt
    raise ModelLoadError(f"unsupported model file {path.name}: expected one of {SUFFIXES}")


def load_runtime(path: Path, num_threads: int = 1) -> Runtime:
    """Pick the runtime by file extension."""
    return format_of(path).load(path, num_threads)
