"""The synthetic training images: deterministic, in the decoder's format and sizes, ruled lines that really run
across the page, negatives without digits, and the cache CLI end to end."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import SHARED_DATA
from training.synth import cache, digits, negatives, scene, strokes

SIZE_LIMITS = {  # kind -> (shortest long side, longest long side)
    "photo-plain": (50, 1500), "photo-ruled": (50, 1500), "photo-squared": (50, 1500),
    "drawing": (100, 600), "scan": (28, 64),
}


def seven() -> np.ndarray:
    """A hand-made MNIST-style 7 (white on black, 28x28), so most tests need no data set."""
    digit = np.zeros((28, 28), np.uint8)
    cv2.polylines(digit, [np.array([[7, 7], [20, 7], [12, 22]], np.int32)], False, 255, 2, cv2.LINE_AA)
    return digit


def test_same_seed_same_images_and_other_seed_other_images():
    def batch(seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        return ([digits.render_digit(seven(), rng) for _ in range(12)]
                + [negatives.render_negative(rng, []) for _ in range(12)])

    first, again, other = batch(3), batch(3), batch(4)
    assert all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, again))
    assert any(a.shape != c.shape or not np.array_equal(a, c) for a, c in zip(first, other))


@pytest.mark.parametrize("kind", list(digits.KINDS))
def test_digit_renders_are_decoder_images_of_the_promised_sizes(kind: str):
    rng = np.random.default_rng(0)
    for _ in range(15):
        image, got = digits.render_digit_kind(seven(), rng, kind)
        assert got == kind
        assert image.dtype == np.uint8
        assert image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)
        lo, hi = SIZE_LIMITS[kind]
        assert lo <= max(image.shape[:2]) <= hi + 1
        assert min(image.shape[:2]) >= 8
        assert int(image.max()) - int(image.min()) > 20  # something is visible


def test_the_digit_is_visible_in_a_plain_photo():
    """The ink differs from the paper around it: strokes were drawn, not lost."""
    rng = np.random.default_rng(1)
    for _ in range(10):
        image = digits.render_digit_kind(seven(), rng, "drawing")[0]
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        background = np.median(gray)
        assert (np.abs(gray.astype(int) - background) > 60).sum() >= 10


def test_thinning_gives_a_one_pixel_centre_line():
    bar = np.zeros((20, 40), bool)
    bar[8:13, 5:35] = True  # 5 pixels thick
    line = strokes.thin(bar)
    assert line.sum() > 20
    assert (line.sum(0)[8:30] == 1).all()  # one pixel per column along the bar


def test_pen_width_does_not_follow_mnist_stroke_width():
    thin_seven = seven()
    fat_seven = cv2.dilate(thin_seven, np.ones((3, 3), np.uint8))
    for digit in (thin_seven, fat_seven):
        canvas = np.zeros((200, 200), np.uint8)
        segs = strokes.pose(strokes.digit_path(digit)[0], height=150, centre=(100, 100), degrees=0, shear=0, aspect=1)
        strokes.draw(canvas, segs, 1.0, antialias=False)
        widths = (canvas[50:150] > 0).sum(1)  # pixels per row: 1 on the diagonal stroke, not MNIST's 2-4
        assert np.median(widths[widths > 0]) <= 2


def test_ruled_lines_run_across_the_whole_page(monkeypatch: pytest.MonkeyPatch):
    """The first layer of a ruled photo is its rules; each reaches both side edges despite tilt and perspective."""
    layers_seen: list[np.ndarray] = []
    original = scene.Layers.add

    def spy(self: scene.Layers, alpha: np.ndarray, colour: np.ndarray, texture: np.ndarray | None = None) -> None:
        layers_seen.append(alpha.copy())
        original(self, alpha, colour, texture)

    monkeypatch.setattr(scene.Layers, "add", spy)
    rng = np.random.default_rng(2)
    for _ in range(10):
        layers_seen.clear()
        digits.render_digit_kind(seven(), rng, "photo-ruled")
        rules = layers_seen[0] > 0
        count, labels, stats, _ = cv2.connectedComponentsWithStats(rules.astype(np.uint8))
        w = rules.shape[1]
        spanning = [i for i in range(1, count) if stats[i, cv2.CC_STAT_LEFT] == 0
                    and stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH] == w]
        assert spanning, "no ruled line crosses the page"


def test_ruled_lines_are_seen_in_the_image():
    """Without tilt or light, rows of a ruled blank page are darker than the paper from edge to edge."""
    rng = np.random.default_rng(5)
    h, w = 200, 300
    layers = scene.Layers(h, w, np.full(3, 240, np.float32))
    lines, _ = scene.page_lines(rng, h, w, 40.0, squared=False, margin=False)
    scene.add_rules(rng, layers, np.eye(3), lines, None)
    gray = cv2.cvtColor(layers.compose(None), cv2.COLOR_BGR2GRAY)
    dark_rows = (gray < 235).all(axis=1)
    assert 3 <= dark_rows.sum() <= 30  # about one row per line, every 40 px


def test_glyphs_avoid_characters_that_look_like_digits():
    assert not set(negatives.LETTERS + negatives.SYMBOLS) & set("0123456789OolIiSsZzBbgqGD")


@pytest.mark.parametrize("kind", [k for k in negatives.KINDS if k != "photo"])
def test_negative_renders_are_decoder_images(kind: str):
    rng = np.random.default_rng(0)
    for _ in range(10):
        image, got = negatives.render_negative_kind(rng, [], kind)
        assert got == kind
        assert image.dtype == np.uint8 and image.ndim in (2, 3) and min(image.shape[:2]) >= 8
        assert max(image.shape[:2]) <= 1501


def test_negatives_never_touch_digit_data(monkeypatch: pytest.MonkeyPatch):
    """Negatives are made from fonts, curves, noise and photos only: a render that reached for MNIST fails."""
    def forbidden(*args, **kwargs):
        raise AssertionError("a negative loaded a data set")

    monkeypatch.setattr(np, "load", forbidden)
    monkeypatch.setattr(strokes, "digit_path", forbidden)
    rng = np.random.default_rng(7)
    for _ in range(30):
        negatives.render_negative(rng, [])


def test_photo_negatives_crop_the_given_photos(tmp_path: Path):
    photo = np.zeros((120, 160, 3), np.uint8)
    photo[:, :, 2] = 200  # red
    cv2.imwrite(str(tmp_path / "red.jpg"), photo)
    rng = np.random.default_rng(0)
    image = negatives.render_negative_kind(rng, [tmp_path / "red.jpg"], "photo")[0]
    if image.ndim == 3:
        assert image[..., 2].mean() > 150 and image[..., 0].mean() < 60
    else:
        assert 40 < image.mean() < 90  # grey of that red


needs_data = pytest.mark.skipif(not (SHARED_DATA / "mnist" / "mnist.npz").is_file(),
                                reason=f"needs MNIST at {SHARED_DATA}/mnist/mnist.npz")


@needs_data
def test_cache_cli_writes_preprocessed_digits_and_negatives(tmp_path: Path):
    out = tmp_path / "synth.npz"
    examples = tmp_path / "examples"
    code = cache.main(["--out", str(out), "--digits", "30", "--negatives", "10", "--seed", "1", "--workers", "2",
                       "--photos-root", str(SHARED_DATA), "--save-examples", str(examples), "6"])
    assert code == 0
    with np.load(out) as data:
        assert {"x", "y", "kind", "source", "seed", "split"} <= set(data.files)
        x, y, kind, source = data["x"], data["y"], data["kind"], data["source"]
    assert x.shape == (40, 28, 28) and x.dtype == np.uint8
    assert ((y[:30] >= 0) & (y[:30] <= 9)).all() and (y[30:] == -1).all()
    assert set(kind[:30]) <= set(digits.KINDS) and set(kind[30:]) <= set(negatives.KINDS)
    assert ((source[:30] >= 0) & (source[:30] < 55000)).all() and (source[30:] == -1).all()
    with np.load(SHARED_DATA / "mnist" / "mnist.npz") as mnist:
        assert (mnist["y_train"][source[:30]] == y[:30]).all()
    assert (x[:30].reshape(30, -1).max(1) > 0).mean() >= 0.8  # the digits reach the network as ink
    assert len(list(examples.glob("*.png"))) == 6

    again = tmp_path / "again.npz"
    assert cache.main(["--out", str(again), "--digits", "30", "--negatives", "10", "--seed", "1", "--workers", "1",
                       "--photos-root", str(SHARED_DATA)]) == 0
    with np.load(again) as data:
        assert np.array_equal(data["x"], x)  # the same whatever the number of workers


def test_holdout_split_uses_other_digits():
    assert set(cache.source_indices("holdout", 6000, 0)) == set(range(55000, 60000))
    assert cache.source_indices("train", 10, 0).max() < 55000
