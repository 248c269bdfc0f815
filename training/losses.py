"""Cross-entropy with an energy margin: teaches the digit network to answer "none of these" with low logits.

Outlier exposure with a uniform target (``training.augment.one_hot_labels``) only asks the network to make its
logits *equal* on a non-digit; their level is left free, so the service's score (the log-sum-exp of the logits)
sits at log(10) for a non-digit and a confident-looking digit is only a little above it. The energy margin
(Liu et al., "Energy-based Out-of-distribution Detection", 2020) adds a squared hinge on that score: at least
``margin_in`` for a digit, at most ``margin_out`` for a non-digit, which opens a gap the threshold can use.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="training")
class EnergyMarginCrossEntropy(keras.losses.Loss):
    """Categorical cross-entropy on logits + ``weight`` x squared hinges on log-sum-exp(logits).

    Targets are the soft labels of ``one_hot_labels``: one-hot for a digit, uniform for a non-digit (its largest
    share is then below one half, which is how a non-digit is told apart here).
    """

    def __init__(self, margin_in: float, margin_out: float, weight: float = 0.1, label_smoothing: float = 0.0,
                 name: str = "energy_margin_crossentropy", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.margin_in, self.margin_out, self.weight = float(margin_in), float(margin_out), float(weight)
        self.label_smoothing = float(label_smoothing)
        self._cross_entropy = keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=label_smoothing, reduction=None)

    def call(self, y_true, y_pred):
        score = ops.logsumexp(y_pred, axis=-1)
        outlier = ops.cast(ops.max(y_true, axis=-1) < 0.5, y_pred.dtype)
        hinge_in = ops.square(ops.relu(self.margin_in - score))
        hinge_out = ops.square(ops.relu(score - self.margin_out))
        margins = (1.0 - outlier) * hinge_in + outlier * hinge_out
        return self._cross_entropy(y_true, y_pred) + self.weight * margins

    def get_config(self) -> dict:
        return {**super().get_config(), "margin_in": self.margin_in, "margin_out": self.margin_out,
                "weight": self.weight, "label_smoothing": self.label_smoothing}
