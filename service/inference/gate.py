"""Is this one handwritten digit? The check a digit model's answer passes before it is given.

A classifier answers one of its classes for anything, so a dog photo would get a confident "1". Two tests, one on
each side of the network:
- before it: the preprocessing found no ink figure at all (a blank, ruled or squared empty page gives an all-black
  input), or several separate figures of comparable size (marks, stripes, words: it then returns the same empty
  input), so there is no one digit to classify; or the figure is a flat dash, which no digit is (a piece of a
  rule, an edge, the bar of a digit whose body the preprocessing lost);
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

import cv2
import numpy as np

# Total ink (sum of the [0, 1] input) below which a 28x28 input holds no figure: an MNIST digit has 100 or more
# (its smallest "1" on the test set has about 20); the preprocessing returns exactly zero when it finds no ink.
MIN_INK_MASS = 3.0
# A figure at most this elongated (``ink_axes``) whose long axis lies within DASH_MAX_TILT degrees of the horizontal
# is a dash. None of MNIST's 70,000 digits is one (a 1 stands upright; at 0.25, one training digit would be), nor
# any of the real-digits and test-data photos; of two held-out samples of rendered non-digits the network
# accepted (seeds 99 and 7), it refuses 8 of 66 and 13 of 90, and 4 of 5,000 rendered digits it read right (those
# looked at were the bar of a 5 or a 7 whose body the preprocessing had lost).
DASH_MAX_ELONGATION = 0.2
DASH_MAX_TILT = 30.0


def ink_axes(image: np.ndarray) -> tuple[float, float]:
    """The shape of one image's ink (2-D, or with a channel axis; any scale), from its intensity-weighted second
    moments: (elongation, tilt). Elongation is the square root of the minor over the major axis' variance: 0 for a
    perfect line (and an empty image), about width / length for a bar, 1 for a disc. Tilt is the long axis' angle
    from the horizontal in degrees, 0 to 90."""
    moments = cv2.moments(np.asarray(image, np.float32).reshape(image.shape[0], image.shape[1]))
    if moments["m00"] <= 0:
        return 0.0, 0.0
    var_c, cov, var_r = (moments[k] / moments["m00"] for k in ("mu20", "mu11", "mu02"))
    half_trace = (var_r + var_c) / 2
    spread = float(np.sqrt(max(half_trace**2 - (var_r * var_c - cov**2), 0.0)))
    major, minor = half_trace + spread, max(half_trace - spread, 0.0)
    return float(np.sqrt(minor / max(major, 1e-12))), float(abs(0.5 * np.degrees(np.arctan2(2 * cov, var_c - var_r))))


def has_figure(x: np.ndarray) -> bool:
    """Before the network: does the preprocessed input hold ink, and is it something other than a flat dash?"""
    if float(x.sum()) < MIN_INK_MASS:
        return False
    elongation, tilt = ink_axes(x)
    return not (elongation <= DASH_MAX_ELONGATION and tilt <= DASH_MAX_TILT)


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

    def accepts(self, x: np.ndarray, logits: np.ndarray) -> bool:
        """Both tests: a figure was found, and one digit stands out of the network's raw logits."""
        return has_figure(x) and float(energy_score(logits)) >= self.threshold
