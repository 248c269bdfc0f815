"""Is this one handwritten digit? The check a digit model's answer passes before it is given.

A classifier answers one of its classes for anything, so a dog photo would get a confident "1". Two tests, one on
each side of the network:
- before it: the preprocessing found no ink figure at all (a blank, ruled or squared empty page gives an all-black
  input), or several separate figures of comparable size (marks, stripes, words: it then returns the same empty
  input), so there is no one digit to classify;
- after it: the digit network is trained to spread its probability evenly over the ten digits for things that are
  not digits (letters, symbols, scribbles, textures, crops of photos, all passed through the same preprocessing).
  Its logits are then all low and alike, so their log-sum-exp (the negative "free energy" of Liu et al., 2020) is
  low; for a digit one logit stands out. That score separates digits from the rest better than the top
  probability (measured on held-out data when the model was exported). Below the threshold recorded in the
  manifest, the answer is "not a digit"; the threshold and its measured rates are in the manifest beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Total ink (sum of the [0, 1] input) below which a 28x28 input holds no figure: an MNIST digit has 100 or more
# (its smallest "1" on the test set has about 20); the preprocessing returns exactly zero when it finds no ink.
MIN_INK_MASS = 3.0


def energy_score(logits: np.ndarray) -> np.ndarray:
    """log-sum-exp of the raw logits along the last axis: high when one class stands out, low when none does."""
    top = logits.max(axis=-1, keepdims=True)
    return (top + np.log(np.exp(logits - top).sum(axis=-1, keepdims=True)))[..., 0]


@dataclass(frozen=True)
class DigitGate:
    """The manifest's ``ood`` block: the lowest score accepted as a digit."""

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

    def accepts(self, x: np.ndarray, logits: np.ndarray) -> bool:
        """Both tests: a figure was found, and one digit stands out of the network's raw logits."""
        return self.has_figure(x) and float(energy_score(logits)) >= self.threshold
