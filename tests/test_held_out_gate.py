"""The not-a-digit threshold chosen at export from the held-out set: on its MNIST digits, or on its rendered digits
that the network reads right; the manifest block says which and how many."""

from __future__ import annotations

import numpy as np
import pytest

from training.export import HeldOut


def held_out() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """100 MNIST digits scoring 10..19.9, 100 renders read right scoring 2..11.9, 20 renders misread scoring 0..1.9,
    50 non-digits scoring -5..-0.1; every image holds ink. The energy score of a logit row with one entry s and
    the rest far below is s, so each row's logits are [s, -50, ...] and its label picks whether it is read right."""
    scores = np.concatenate([np.arange(100) / 10 + 10, np.arange(100) / 10 + 2, np.arange(20) / 10,
                             -5 + np.arange(50) / 10])
    kinds = np.array(["mnist"] * 100 + ["photo-plain"] * 120 + ["scribble"] * 50)
    y = np.array([0] * 200 + [3] * 20 + [-1] * 50)
    logits = np.full((len(scores), 10), -50.0)
    logits[:, 0] = scores
    x = np.ones((len(scores), 28, 28, 1), np.float32)
    return x, y, kinds, logits


def blocks(chosen_on: str, max_refused: float) -> dict:
    x, y, kinds, logits = held_out()
    table = {id(x): logits}
    gate = HeldOut(x, y, kinds, max_refused=max_refused, chosen_on=chosen_on)
    return gate.blocks(lambda a: table.get(id(a), logits[:5]), x[:5], y[:5], "test")["ood"]


def test_on_mnist_the_threshold_refuses_the_asked_share_of_the_mnist_digits():
    ood = blocks("mnist", 0.05)
    assert ood["threshold"] == pytest.approx(10.4)  # 4 of the 100 MNIST digits score below it (at most 5)
    assert ood["chosen_on"] == "100 held-out MNIST digits" and ood["chosen_to_refuse_at_most_percent"] == 5.0
    assert ood["held_out_by_kind"]["mnist"]["refused_percent"] == 4.0


def test_on_renders_read_right_the_misread_ones_do_not_pull_the_threshold_down():
    ood = blocks("rendered_read_right", 0.05)
    assert ood["threshold"] == pytest.approx(2.4)  # the 100 renders read right; the 20 misread ones score lower
    assert ood["chosen_on"] == "100 held-out rendered digits read right"
    assert ood["held_out_by_kind"]["mnist"]["refused_percent"] == 0.0
    assert ood["held_out_by_kind"]["scribble"]["refused_percent"] == 100.0


def test_an_unknown_set_is_refused():
    x, y, kinds, _ = held_out()
    with pytest.raises(ValueError, match="chosen_on"):
        HeldOut(x, y, kinds, chosen_on="everything")
