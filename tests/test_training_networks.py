"""The digit network's two heads: global pooling (versions 1-6) and a dense layer over the last feature map."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from training.networks import build  # noqa: E402


def _mark_at(row: int, col: int) -> np.ndarray:
    """A 2x2 mark: small enough that every layer's features of it stay inside the map at both places below, so
    the zero padding (like the empty page around it) cannot tell the two apart."""
    image = np.zeros((1, 28, 28, 1), np.float32)
    image[0, row : row + 2, col : col + 2, 0] = 1.0
    return image


def test_pooled_head_is_the_shipped_size():
    assert build("cnn", (28, 28, 1), 10, width=24).count_params() == 79_906  # versions 1-6 load into it


@pytest.mark.parametrize(("head_units", "sees_where"), [(0, False), (16, True)])
def test_dense_head_sees_where_a_stroke_lies(head_units, sees_where):
    """The same mark moved by a multiple of the pooling stride (4) gives the pooled head the same features, so the
    same answer; the dense head answers differently, as it must to tell a "?" from a "7" built of similar parts."""
    keras.utils.set_random_seed(0)
    model = build("cnn", (28, 28, 1), 10, width=8, head_units=head_units)
    first, moved = (model.predict(_mark_at(*where), verbose=0)[0] for where in ((12, 12), (16, 16)))
    assert np.abs(first).max() > 0
    assert (not np.allclose(first, moved, rtol=1e-4, atol=1e-7)) == sees_where
