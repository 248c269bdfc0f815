"""Which rendered images the digit network is taught: two kinds of render teach it the wrong thing.

- A non-digit whose preprocessed figure is one straight stroke (a stripe of a texture, a flower's stem, the edge
  of a page) is, at 28x28, a "1": nothing in the network's input tells it apart from MNIST's 1s. Taught as "not a
  digit", it teaches the network to doubt every plain 1, and real photos of a 1 came out just above the refusal
  threshold. Such negatives are left out of training (they stay in the held-out set, where they count as
  non-digits to refuse).
- A rendered digit that a trained digit model misreads is usually one the preprocessing has broken (a figure cut
  in two, a stroke taken with a ruled line). Taught as a digit, it teaches the network to accept fragments.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Below this ratio of the ink's minor to major axis, a 28x28 figure is one straight stroke. Measured on MNIST's
# test set: 92.5% of its 1s and 0.14% of its other digits fall below it.
STRAIGHT_STROKE = 0.25


def elongation(x: np.ndarray) -> np.ndarray:
    """Per image (N, 28, 28[, 1], any scale): the square root of the minor over the major eigenvalue of the ink's
    coordinate covariance, weighted by the ink; 0 for a perfect line (and for an empty image), 1 for a disc."""
    x = x.reshape(len(x), x.shape[1], x.shape[2]).astype(np.float64)
    rows, cols = np.mgrid[: x.shape[1], : x.shape[2]]
    weights = x / np.maximum(x.sum(axis=(1, 2), keepdims=True), 1e-12)
    mean_r, mean_c = (weights * rows).sum(axis=(1, 2)), (weights * cols).sum(axis=(1, 2))
    dr, dc = rows - mean_r[:, None, None], cols - mean_c[:, None, None]
    var_r, var_c = (weights * dr * dr).sum(axis=(1, 2)), (weights * dc * dc).sum(axis=(1, 2))
    cov = (weights * dr * dc).sum(axis=(1, 2))
    half_trace = (var_r + var_c) / 2
    spread = np.sqrt(np.maximum(half_trace**2 - (var_r * var_c - cov**2), 0.0))
    major, minor = half_trace + spread, np.maximum(half_trace - spread, 0.0)
    return np.sqrt(minor / np.maximum(major, 1e-12))


def straight_strokes(x: np.ndarray) -> np.ndarray:
    """Which images hold one straight stroke (see the module's docstring)."""
    return elongation(x) < STRAIGHT_STROKE


def misread_by(model_dir: Path, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which digits (y >= 0) the served TFLite model of ``model_dir`` (a published version folder) reads as
    another digit; non-digits are never marked."""
    from training.export import tflite_outputs

    outputs = tflite_outputs((Path(model_dir) / "model.tflite").read_bytes(), np.asarray(x, np.float32))
    return (y >= 0) & (outputs.argmax(axis=1) != y)
