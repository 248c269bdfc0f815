"""Small helpers that shape prediction JSON the same way for every endpoint."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def probabilities_by_label(labels: Sequence[str], probabilities: np.ndarray) -> dict[str, float]:
    return {label: round(float(p), 6) for label, p in zip(labels, probabilities, strict=True)}


def label_value(label: str) -> int | str:
    """Digit labels are answered as numbers (``"prediction": 8``), others as their name (``"roses"``)."""
    return int(label) if label.isdigit() else label
