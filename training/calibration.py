"""Calibrated scores and the "not a digit" threshold, fitted on held-out data at export time.

Pure NumPy, so the same figures can be recomputed from any model's outputs (``python -m training.calibrate``).

- Temperature scaling (Guo et al., 2017): one scalar divides the logits before the softmax. It keeps every
  argmax, so accuracy is unchanged, and it is fitted by minimising the negative log-likelihood on held-out
  examples; a one-dimensional bounded minimisation, done here by golden-section search on log T.
- The expected calibration error uses 15 equal-width confidence bins, as in that paper.
- The digit gate's threshold is a quantile of the calibrated top probability on held-out digits: the share of
  real digits it may refuse is fixed first, and the share of non-digits it refuses is then measured.
"""

from __future__ import annotations

import math

import numpy as np

ECE_BINS = 15


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Fraction in [0, 1]: the mean gap between confidence and accuracy over equal-width bins, weighted by count."""
    confidence = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        chosen = which == b
        if chosen.any():
            total += chosen.mean() * abs(float(confidence[chosen].mean()) - float(right[chosen].mean()))
    return float(total)


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    z = np.asarray(logits, np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(labels)), labels]))


def fit_temperature(logits: np.ndarray, labels: np.ndarray, low: float = 0.05, high: float = 20.0) -> float:
    """The temperature in [low, high] that minimises the held-out negative log-likelihood."""
    a, b = math.log(low), math.log(high)
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc = negative_log_likelihood(logits, labels, math.exp(c))
    fd = negative_log_likelihood(logits, labels, math.exp(d))
    for _ in range(60):  # the bracket shrinks by 0.618 each step: far below 1e-6 in log T
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = negative_log_likelihood(logits, labels, math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = negative_log_likelihood(logits, labels, math.exp(d))
    return float(math.exp((a + b) / 2))


def calibration_block(fit_logits: np.ndarray, fit_labels: np.ndarray,
                      sets: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, object]:
    """Fit on one held-out set, report the ECE (in percent) before and after on every named set."""
    temperature = fit_temperature(fit_logits, fit_labels)
    ece = {name: {"before": round(100 * expected_calibration_error(softmax(lg), y), 3),
                  "after": round(100 * expected_calibration_error(softmax(lg, temperature), y), 3),
                  "count": int(len(y))}
           for name, (lg, y) in sets.items()}
    return {"method": "temperature", "temperature": round(temperature, 4), "fitted_on": f"{len(fit_labels)} held-out",
            "ece_bins": ECE_BINS, "ece_percent": ece}


def refused(scores: np.ndarray, has_figure: np.ndarray, threshold: float) -> np.ndarray:
    """The gate's decision per example: no figure, or a top score below the threshold."""
    return ~has_figure | (scores < threshold)


def choose_threshold(digit_scores: np.ndarray, max_refused: float) -> float:
    """The highest threshold that refuses at most ``max_refused`` of the held-out digits."""
    return float(np.quantile(digit_scores, max_refused, method="lower"))


def threshold_refusing(non_digit_scores: np.ndarray, has_figure: np.ndarray, min_refused: float) -> float:
    """The lowest threshold that refuses at least ``min_refused`` of the held-out non-digits.

    Those without a figure are refused whatever the threshold; of the rest, the lowest-scoring ones are refused
    until the share is reached. The threshold is the first value above the last of them on the 6-decimal grid a
    manifest keeps, so the recorded threshold refuses exactly what was measured.
    """
    if not 0 < min_refused <= 1:
        raise ValueError(f"min_refused must be in (0, 1], got {min_refused}")
    ranked = np.sort(np.asarray(non_digit_scores, np.float64)[has_figure])
    needed = math.ceil(min_refused * len(non_digit_scores) - 1e-9) - int((~has_figure).sum())
    if needed <= 0:
        return math.floor(float(ranked[0]) * 1e6) / 1e6 if len(ranked) else 0.0
    return (math.floor(float(ranked[needed - 1]) * 1e6) + 1) / 1e6
