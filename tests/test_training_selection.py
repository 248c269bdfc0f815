"""Which renders the digit network is taught: straight strokes left out of the negatives, misread digits left out
of the digits."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from service.inference.gate import MIN_INK_MASS
from tests.conftest import MODELS_DIR, SHARED_DATA
from training.selection import STRAIGHT_STROKE, elongation, misread_by, straight_strokes


def stroke_image(*segments: tuple[tuple[int, int], tuple[int, int]], thickness: int = 2) -> np.ndarray:
    image = np.zeros((28, 28), np.uint8)
    for start, end in segments:
        cv2.line(image, start, end, 255, thickness, cv2.LINE_AA)
    return image


def ring() -> np.ndarray:
    image = np.zeros((28, 28), np.uint8)
    cv2.ellipse(image, (14, 14), (6, 9), 0, 0, 360, 255, 2, cv2.LINE_AA)
    return image


def test_a_straight_stroke_at_any_angle_is_one_and_round_or_bent_figures_are_not():
    lines = np.stack([stroke_image(((14, 4), (14, 24))), stroke_image(((6, 22), (22, 6))),
                      stroke_image(((4, 14), (24, 14)))])
    assert (elongation(lines) < STRAIGHT_STROKE).all()
    others = np.stack([ring(), stroke_image(((6, 6), (22, 6)), ((22, 6), (12, 24))),  # a 7
                       stroke_image(((8, 14), (20, 14)), ((14, 6), (14, 22)))])  # a plus
    assert (elongation(others) > STRAIGHT_STROKE).all()
    assert straight_strokes(np.concatenate([lines, others])).tolist() == [True] * 3 + [False] * 3


def test_elongation_takes_any_scale_and_a_channel_axis_and_an_empty_image_is_zero():
    line = stroke_image(((14, 4), (14, 24)))
    as_float = (line.astype(np.float32) / 255)[None, ..., None]
    assert elongation(as_float)[0] == pytest.approx(elongation(line[None])[0])
    assert elongation(np.zeros((1, 28, 28)))[0] == 0


def test_mnist_ones_are_mostly_straight_strokes_and_other_digits_almost_never():
    # The figures the threshold's comment gives, on the real MNIST test set.
    mnist = SHARED_DATA / "mnist" / "mnist.npz"
    if not mnist.is_file():
        pytest.skip(f"{mnist} is absent (the shared data sets live in <repo>/../shared/data)")
    with np.load(mnist) as f:
        x, y = f["x_test"], f["y_test"]
    straight = straight_strokes(x)
    assert straight[y == 1].mean() > 0.9
    assert straight[y != 1].mean() < 0.005


def test_misread_by_marks_the_digits_the_model_reads_as_another_and_never_a_non_digit():
    line = (stroke_image(((14, 4), (14, 24)), thickness=3).astype(np.float32) / 255)[..., None]
    x = np.stack([line, line, line])
    marked = misread_by(MODELS_DIR / "mnist" / "3", x, np.array([1, 8, -1]))
    assert marked.tolist() == [False, True, False]


@pytest.mark.slow
def test_the_synthetic_set_leaves_out_what_the_config_asks_and_says_how_many(tmp_path, monkeypatch):
    from training import datasets

    for need in (SHARED_DATA / "mnist" / "mnist.npz", SHARED_DATA / "flowers"):
        if not need.exists():
            pytest.skip(f"{need} is absent (the shared data sets live in <repo>/../shared/data)")
    monkeypatch.setattr(datasets, "REPO", tmp_path)  # the render cache goes to tmp_path/runs/synth
    teacher = str(MODELS_DIR / "mnist" / "3")  # absolute, so REPO / teacher is the shipped version
    sizes = {"digits": 80, "negatives": 120, "held_out_digits": 10, "held_out_negatives": 10, "workers": 1}

    def built(**selection) -> datasets.Data:
        data = datasets.mnist_dataset(path=str(SHARED_DATA / "mnist" / "mnist.npz"), image_size=[28, 28, 1])
        datasets.with_synthetic(data, None, **sizes, **selection)
        return data

    everything = built()
    selected = built(drop_straight_negatives=True, drop_misread_by=teacher)
    info = selected.info["synthetic"]
    assert info["straight_negatives_dropped"] > 0 and info["misread_digits_dropped"] > 0
    left_out = info["straight_negatives_dropped"] + info["misread_digits_dropped"]
    assert len(selected.x_train) == len(everything.x_train) - left_out
    # What is left: no straight negative, and (MNIST's own digits aside) nothing the teacher misreads.
    rendered_x, rendered_y = selected.x_train[datasets.MNIST_HELD_OUT:], selected.y_train[datasets.MNIST_HELD_OUT:]
    negatives = rendered_x[rendered_y < 0]
    inked = negatives.reshape(len(negatives), -1).sum(axis=1) >= MIN_INK_MASS
    assert not straight_strokes(negatives[inked]).any()
    assert not misread_by(MODELS_DIR / "mnist" / "3", rendered_x, rendered_y).any()
    assert len(everything.held_out.x) == len(selected.held_out.x)  # the held-out set keeps every kind
