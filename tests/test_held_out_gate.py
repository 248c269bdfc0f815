"""The not-a-digit threshold chosen at export from the held-out set: on its MNIST digits, on its rendered digits
that the network reads right, or on its non-digits; the manifest block says which and how many."""

from __future__ import annotations

import numpy as np
import pytest

from training.calibration import threshold_refusing
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


def blocks(chosen_on: str, max_refused: float = 0.005, min_refused: float = 0.98) -> dict:
    x, y, kinds, logits = held_out()
    table = {id(x): logits}
    gate = HeldOut(x, y, kinds, max_refused=max_refused, chosen_on=chosen_on, min_refused=min_refused)
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


def test_on_non_digits_the_threshold_is_the_lowest_refusing_the_asked_share():
    ood = blocks("non_digits", min_refused=0.9)
    # 45 of the 50 non-digits (scoring -5..-0.1) must be refused: the threshold sits just above the 45th, -0.6
    assert ood["threshold"] == pytest.approx(-0.6 + 1e-6, abs=1e-6)
    assert ood["chosen_on"] == "50 held-out rendered non-digits" and ood["chosen_to_refuse_at_least_percent"] == 90.0
    assert ood["held_out_by_kind"]["scribble"]["refused_percent"] == 90.0
    assert ood["held_out_by_kind"]["mnist"]["refused_percent"] == 0.0
    assert blocks("non_digits", min_refused=1.0)["held_out_by_kind"]["scribble"]["refused_percent"] == 100.0


def test_non_digits_without_a_figure_count_as_refused_whatever_the_threshold():
    scores = np.array([9.0, 1.0, 2.0, 3.0])
    figure = np.array([False, True, True, True])
    assert threshold_refusing(scores, figure, 0.5) == pytest.approx(1.000001)  # the empty one and the 1.0
    assert threshold_refusing(scores, figure, 0.25) == 1.0  # the empty one is enough: nothing else refused
    assert threshold_refusing(scores, figure, 0.75) == pytest.approx(2.000001)
    with pytest.raises(ValueError, match="min_refused"):
        threshold_refusing(scores, figure, 0.0)


def test_an_unknown_set_is_refused():
    x, y, kinds, _ = held_out()
    with pytest.raises(ValueError, match="chosen_on"):
        HeldOut(x, y, kinds, chosen_on="everything")
