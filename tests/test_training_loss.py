"""The smoothed sparse cross-entropy equals Keras' one-hot cross-entropy with ``label_smoothing``."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from training.run import smoothed_sparse_crossentropy  # noqa: E402


@pytest.mark.parametrize("epsilon", [0.0, 0.1, 0.3])
def test_matches_keras_categorical_crossentropy_with_label_smoothing(epsilon):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 5)).astype("float32") * 3
    labels = rng.integers(0, 5, 6)
    reference = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=epsilon, reduction=None)
    expected = np.asarray(reference(keras.ops.one_hot(labels, 5), logits))
    got = np.asarray(smoothed_sparse_crossentropy(epsilon)(labels, logits))
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert got.shape == (6,)
