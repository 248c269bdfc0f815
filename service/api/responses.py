"""Small helpers that shape prediction JSON the same way for every endpoint."""

from __future__ import annotations

import base64
from collections.abc import Sequence

import cv2
import numpy as np

from service.inference import Prediction

from service.errors import BadRequest


def probabilities_by_label(labels: Sequence[str], probabilities: np.ndarray) -> dict[str, float]:
    return {label: round(float(p), 6) for label, p in zip(labels, probabilities, strict=True)}


def label_value(label: str) -> int | str:
    """Digit labels are answered as numbers (``"prediction": 8``), others as their name (``"roses"``)."""
    return int(label) if label.isdigit() else label


def input_image_data_url(network_input: np.ndarray, value_range: tuple[float, float]) -> str:
    """The network's input as a PNG data URL: lets a person see what the model was actually shown.

    ``network_input`` is one example, (H, W), (H, W, 1) or RGB (H, W, 3), with values in ``value_range``.
    """
    low, high = value_range
    scaled = (np.asarray(network_input, np.float32) - low) * (255.0 / ((high - low) or 1.0))
    pixels = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    elif pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    ok, png = cv2.imencode(".png", pixels)
    if not ok:
        raise ValueError(f"cannot encode a network input of shape {network_input.shape} as PNG")
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode("ascii")


INCLUDE_OPTIONS = frozenset({"input"})


def include_options(value: str | None) -> frozenset[str]:
    """Parse ``?include=input[,...]``: optional extras a client asks for; an unknown one is a client mistake."""
    if not value:
        return frozenset()
    asked = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = asked - INCLUDE_OPTIONS
    if unknown:
        raise BadRequest(
            f"unknown include option(s) {', '.join(sorted(unknown))}; available: {', '.join(sorted(INCLUDE_OPTIONS))}"
        )
    return asked


def shown_input(prediction: Prediction, value_range: tuple[float, float], include: frozenset[str]) -> dict[str, str]:
    """``?include=input``: ``{"input": <PNG data URL>}`` of what the network was shown, else nothing."""
    if "input" not in include or prediction.input is None:
        return {}
    return {"input": input_image_data_url(prediction.input, value_range)}
