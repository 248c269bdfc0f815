"""Is this one handwritten digit? The check a digit model's answer passes before it is given.

A classifier answers one of its classes for anything, so a dog photo would get a confident "1". Two tests, one on
each side of the network:
- before it: the preprocessing found no ink figure at all (a blank, ruled or squared empty page gives an all-black
  input), so there is nothing to classify;
- after it: the digit network is trained to spread its probability evenly over the ten digits for things that are
  not digits (letters, symbols, scribbles, textures, crops of photos, all passed through the same preprocessing),
  so the calibrated top probability is low for them. Below the threshold recorded in the manifest, the answer is
  "not a digit". The threshold was chosen on held-in data when the model was exported (its rates are in the
  manifest beside it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Total ink (sum of the [0, 1] input) below which a 28x28 input holds no figure: an MNIST digit has 100 or more
# (its smallest "1" on the test set has about 20); the preprocessing returns exactly zero when it finds no ink.
MIN_INK_MASS = 3.0


@dataclass(frozen=True)
class DigitGate:
    """The manifest's ``ood`` block: the lowest calibrated top probability accepted as a digit."""

    threshold: float

    @classmethod
    def from_manifest(cls, raw: dict[str, Any]) -> DigitGate | None:
        block = raw.get("ood")
        if not isinstance(block, dict) or "threshold" not in block:
            return None
        return cls(float(block["threshold"]))

    def has_figure(self, x: np.ndarray) -> bool:
        """Before the network: does the preprocessed input hold any ink at all?"""
        return float(x.sum()) >= MIN_INK_MASS

    def accepts(self, x: np.ndarray, probabilities: np.ndarray) -> bool:
        """Both tests: a figure was found, and the network is sure enough that it is a digit."""
        return self.has_figure(x) and float(probabilities.max()) >= self.threshold
