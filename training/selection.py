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
    """Per image (N, 28, 28[, 1], any scale): the elongation of its ink (``service.inference.gate.ink_axes``, the
    measure the digit gate uses): 0 for a perfect line (and for an empty image), 1 for a disc."""
    from service.inference.gate import ink_axes

    return np.array([ink_axes(image)[0] for image in x], dtype=np.float64)


def straight_strokes(x: np.ndarray) -> np.ndarray:
    """Which images hold one straight stroke (see the module's docstring)."""
    return elongation(x) < STRAIGHT_STROKE


def misread_by(model_dir: Path, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which digits (y >= 0) the served TFLite model of ``model_dir`` (a published version folder) reads as
    another digit; non-digits are never marked."""
    from training.export import tflite_outputs

    outputs = tflite_outputs((Path(model_dir) / "model.tflite").read_bytes(), np.asarray(x, np.float32))
    return (y >= 0) & (outputs.argmax(axis=1) != y)
