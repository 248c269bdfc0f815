"""Temperature scaling, the 15-bin ECE and the gate threshold (pure NumPy, no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest

from training.calibration import (
    calibration_block,
    choose_threshold,
    expected_calibration_error,
    fit_temperature,
    refused,
    softmax,
)


def sampled(temperature: float, n: int = 20000, classes: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels drawn so that softmax(logits / temperature) is the true label distribution."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (n, classes))
    p = softmax(logits, temperature)
    labels = (p.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    return logits, labels


def test_the_true_temperature_is_recovered() -> None:
    logits, labels = sampled(2.5)
    assert fit_temperature(logits, labels) == pytest.approx(2.5, rel=0.05)


def test_calibrated_scores_have_a_small_ece_and_overconfident_ones_a_large_one() -> None:
    logits, labels = sampled(2.5)
    assert expected_calibration_error(softmax(logits, 2.5), labels) < 0.02
    assert expected_calibration_error(softmax(logits, 1.0), labels) > 0.1


def test_ece_of_a_known_case() -> None:
    # Every answer says 0.9 and half are right: the gap is 0.4.
    probabilities = np.tile([0.9, 0.1], (10, 1))
    labels = np.array([0, 1] * 5)
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.4)


def test_calibration_block_reports_before_and_after() -> None:
    logits, labels = sampled(3.0, seed=1)
    block = calibration_block(logits[:10000], labels[:10000], {"other": (logits[10000:], labels[10000:])})
    ece = block["ece_percent"]["other"]
    assert ece["after"] < ece["before"]
    assert block["temperature"] == pytest.approx(3.0, rel=0.08)


def test_threshold_refuses_at_most_the_asked_share_of_digits() -> None:
    scores = np.linspace(0.5, 1.0, 1001)
    threshold = choose_threshold(scores, 0.01)
    no = refused(scores, np.ones_like(scores, bool), threshold)
    assert no.mean() <= 0.01
    assert refused(np.array([0.99]), np.array([False]), threshold)[0]  # no figure: refused whatever the score
