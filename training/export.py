"""Export what the service serves: ``model.keras``, TFLite variants measured on held-out data, the manifest.

Three TFLite variants are converted and each is evaluated with the serving runtime (LiteRT); the smallest whose
accuracy is within ``TOLERANCE`` points of float32 becomes ``model.tflite``, and every figure goes in the manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from service.inference.versions import sha256_file
from training.calibration import calibration_block, choose_threshold, refused, threshold_refusing
from training.config import GATE_CHOSEN_ON

log = logging.getLogger(__name__)

VARIANTS = ("float32", "float16", "int8")  # int8 = dynamic-range quantisation (int8 weights, float activations)
TOLERANCE = 0.5  # accuracy points a smaller variant may lose against float32 and still be served


class HeldOut:
    """Examples kept out of training: digits (labels 0..9) and non-digits (label -1), each with its kind.

    The digits fit the calibration temperature. The digit gate's threshold (on the energy score of
    ``service.inference.gate``) is chosen by one of three rules, named by ``chosen_on``:

    - ``"mnist"``: refuse at most ``max_refused`` of the held-out MNIST digits (kind ``mnist``);
    - ``"rendered_read_right"``: refuse at most ``max_refused`` of the held-out rendered photos, drawings and scans
      that the network reads right. Real photos and drawings fall where these renders fall, not where MNIST does: a
      network trained to the last decimal on MNIST grows so sure of MNIST's own digits that a threshold set on them
      sits in the renders' (and real digits') low tail. Renders it misreads are left out, since some are illegible.
    - ``"non_digits"``: refuse at least ``min_refused`` of the held-out non-digits, at the lowest threshold that
      does. The two rules above fix what the gate may cost in digits and take whatever share of non-digits that
      gives; this one fixes the share of non-digits the service promises to refuse and takes the lowest cost in
      digits that reaches it.

    The rates the gate then has on every kind are recorded beside it.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, kinds: np.ndarray, max_refused: float = 0.005,
                 chosen_on: str = "mnist", min_refused: float = 0.98) -> None:
        if chosen_on not in GATE_CHOSEN_ON:
            raise ValueError(f"chosen_on must be one of {sorted(GATE_CHOSEN_ON)}, got {chosen_on!r}")
        self.x, self.y, self.kinds, self.chosen_on = x, y, kinds, chosen_on
        self.max_refused, self.min_refused = max_refused, min_refused

    def blocks(self, logits_of: Any, x_eval: np.ndarray, y_eval: np.ndarray, eval_name: str) -> dict[str, Any]:
        """The manifest's ``calibration`` block and, when the held-out set has non-digits, its ``ood`` block."""
        logits, eval_logits = logits_of(self.x), logits_of(x_eval)
        digits = self.y >= 0
        calibration = calibration_block(logits[digits], self.y[digits], {
            f"mnist_{eval_name}": (eval_logits, y_eval), "held_out_digits": (logits[digits], self.y[digits])})
        blocks: dict[str, Any] = {"calibration": calibration}
        if (~digits).any():
            blocks["ood"] = self.gate_block(logits, x_eval, eval_logits, eval_name)
        return blocks

    def gate_block(self, logits: np.ndarray, x_eval: np.ndarray, eval_logits: np.ndarray,
                   eval_name: str) -> dict[str, Any]:
        """Choose the gate's threshold on the held-out set's ``logits`` and measure it there and on ``x_eval``."""
        from service.inference.gate import energy_score, has_figure

        digits = self.y >= 0
        scores = energy_score(logits)
        figure = np.array([has_figure(image) for image in self.x], dtype=bool)
        if self.chosen_on == "non_digits":
            chooser = ~digits
            threshold = threshold_refusing(scores[chooser], figure[chooser], self.min_refused)
            rule = {"chosen_to_refuse_at_least_percent": round(100 * self.min_refused, 3)}
        else:
            if self.chosen_on == "mnist":
                chooser = (self.kinds == "mnist") & figure
            else:
                chooser = digits & (self.kinds != "mnist") & figure & (logits.argmax(axis=1) == self.y)
            threshold = choose_threshold(scores[chooser if chooser.any() else digits & figure], self.max_refused)
            rule = {"chosen_to_refuse_at_most_percent": round(100 * self.max_refused, 3)}
        no = refused(scores, figure, threshold)
        eval_no = refused(energy_score(eval_logits), np.array([has_figure(image) for image in x_eval], dtype=bool),
                          threshold)
        rates = {str(kind): {"refused_percent": round(100 * float(no[self.kinds == kind].mean()), 2),
                             "count": int((self.kinds == kind).sum()), "digit": bool(digits[self.kinds == kind][0])}
                 for kind in np.unique(self.kinds)}
        log.info("gate threshold %.4f: MNIST %s refused %.2f%%, held-out non-digits refused %.2f%%", threshold,
                 eval_name, 100 * eval_no.mean(), 100 * no[~digits].mean())
        return {
            "method": "no ink figure or a flat dash, or energy score (log-sum-exp of the logits) below the threshold",
            "threshold": round(threshold, 6),
            **rule,
            "chosen_on": f"{int(chooser.sum())} {GATE_CHOSEN_ON[self.chosen_on]}",
            f"mnist_{eval_name}_refused_percent": round(100 * float(eval_no.mean()), 3),
            "held_out_digits_refused_percent": round(100 * float(no[digits].mean()), 3),
            "held_out_non_digits_refused_percent": round(100 * float(no[~digits].mean()), 3),
            "held_out_by_kind": rates,
        }


def tflite_bytes(model: keras.Model, variant: str) -> bytes:
    """Convert the inference graph (random augmentation layers are identities); the batch dimension stays
    dynamic, so the service can batch requests."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if variant in ("float16", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    with captured_output("TFLite conversion"):
        return converter.convert()


@contextlib.contextmanager
def captured_output(what: str) -> Iterator[None]:
    """Keep the converter's dump out of stdout and stderr (stdout is for results): Keras prints the SavedModel
    signature through ``sys.stdout``, TensorFlow's C++ logs straight to the file descriptors. Both go to this
    module's log at DEBUG level instead."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    printed = io.StringIO()
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
                yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            sink.seek(0)
            text = (printed.getvalue() + sink.read().decode(errors="replace")).strip()
            if text:
                log.debug("%s output:\n%s", what, text)


def tflite_outputs(model_bytes: bytes, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Run a TFLite model over ``x`` with LiteRT, the runtime the service uses."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes, num_threads=2)
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    outputs, current = [], None
    for start in range(0, len(x), batch_size):
        batch = np.ascontiguousarray(x[start:start + batch_size], dtype=np.float32)
        if batch.shape[0] != current:
            interpreter.resize_tensor_input(input_index, batch.shape, strict=False)
            interpreter.allocate_tensors()
            current = batch.shape[0]
        interpreter.set_tensor(input_index, batch)
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(output_index).copy())
    return np.concatenate(outputs)


def keras_outputs(model: keras.Model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    return model.predict(np.asarray(x, dtype=np.float32), batch_size=batch_size, verbose=0)


def eval_set_sha256(x: np.ndarray, y: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(x).tobytes())
    digest.update(np.ascontiguousarray(y).astype(np.int64).tobytes())
    return digest.hexdigest()


def accuracy(outputs: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy in percent."""
    return float(100.0 * np.mean(np.argmax(outputs, axis=1) == labels))


def choose_variant(accuracies: dict[str, float], sizes: dict[str, int]) -> str:
    """The smallest variant within TOLERANCE points of float32."""
    ok = [v for v in VARIANTS if accuracies[v] >= accuracies["float32"] - TOLERANCE]
    return min(ok, key=lambda v: sizes[v])


def measure_variants(model: keras.Model, x: np.ndarray, y: np.ndarray) -> tuple[dict[str, bytes], dict[str, float]]:
    """Convert every TFLite variant and measure its accuracy on (x, y) with LiteRT."""
    converted = {v: tflite_bytes(model, v) for v in VARIANTS}
    return converted, {v: accuracy(tflite_outputs(converted[v], x), y) for v in VARIANTS}


def reference_figures(manifest_path: Path, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``("reference_<network>", figures)`` from a baseline run's manifest, to record beside a model's own.

    Why a file and not a second training inside this run: the baseline is trained once (``configs/flowers_cnn.json``)
    and every later run of the shipped recipe points at it. ``same_split`` says whether both held out the same files.
    """
    ref = json.loads(manifest_path.read_text())
    eval_name = ref.get("training", {}).get("eval_set", "validation")
    figures = {
        "network": ref["training"]["config"]["network"],
        "manifest": str(manifest_path),
        "epochs": ref["training"]["epochs_run"],
        "params": ref["params"],
        f"{eval_name}_accuracy": ref["metrics"][f"{eval_name}_accuracy"],
        "tflite": ref["metrics"]["tflite"],
        "train_seconds": ref["metrics"]["train_seconds"],
        "same_split": ref["data"].get("validation_files_sha256") == data.get("validation_files_sha256"),
    }
    return f"reference_{figures['network']}", figures


def export(model: keras.Model, directory: Path, *, name: str, version: str, task: str, labels: list[str],
           input_shape: tuple[int, ...], input_range: list[float], preprocessing: dict[str, Any],
           x_eval: np.ndarray, y_eval: np.ndarray, eval_name: str, metrics: dict[str, Any],
           training: dict[str, Any], data: dict[str, Any], history: list[dict[str, Any]],
           held_out: HeldOut | None = None) -> dict[str, Any]:
    """Write ``directory`` (model.keras, model.tflite, manifest.json, history.json); return the manifest.

    ``held_out`` (examples the run never trained on) adds the calibration temperature and, when it holds
    non-digits, the digit gate's threshold, both measured with the served TFLite variant.
    """
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory / "model.keras")
    metrics = dict(metrics)
    keras_acc = accuracy(keras_outputs(model, x_eval), y_eval)
    converted, accuracies = measure_variants(model, x_eval, y_eval)
    sizes = {v: len(b) for v, b in converted.items()}
    served = choose_variant(accuracies, sizes)
    (directory / "model.tflite").write_bytes(converted[served])
    metrics[f"{eval_name}_accuracy"] = accuracies[served]
    metrics[f"{eval_name}_count"] = int(len(y_eval))
    metrics["keras"] = {f"{eval_name}_accuracy": keras_acc}
    metrics["tflite"] = {v: {f"{eval_name}_accuracy": accuracies[v], "bytes": sizes[v]} for v in VARIANTS}
    metrics["tflite_served"] = served
    for v in VARIANTS:
        log.info("%s: TFLite %s %s accuracy %.2f%% (%d bytes)", name, v, eval_name, accuracies[v], sizes[v])
    log.info("%s: Keras %s accuracy %.2f%%; serving the %s TFLite", name, eval_name, keras_acc, served)
    manifest = {
        "name": name,
        "version": str(version),
        "task": task,
        "labels": labels,
        "input": {"shape": list(input_shape), "dtype": "float32", "range": input_range},
        "preprocessing": preprocessing,
        "output": "logits",
        "files": {"tflite": "model.tflite", "keras": "model.keras"},
        "metrics": metrics,
        "params": int(model.count_params()),
        "training": training,
        "data": data,
        "history": "history.json",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        # Checked by the service before loading, so a truncated or altered file is refused, never served.
        "files_sha256": {f: sha256_file(directory / f) for f in ("model.tflite", "model.keras")},
    }
    # Which images the figures were measured on: versions compare (promotion) only on the same ones.
    manifest["data"] = dict(data, eval_sha256=eval_set_sha256(x_eval, y_eval))
    if held_out is not None:
        def served_logits(x: np.ndarray) -> np.ndarray:
            return tflite_outputs(converted[served], x)

        manifest.update(held_out.blocks(served_logits, x_eval, y_eval, eval_name))
    (directory / "history.json").write_text(json.dumps(history, indent=1) + "\n")
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
