"""The digit augmentations: each keeps shapes and the [0, 1] range, and each does what its name says; CutMix's
labels match the pasted area."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from training import augment  # noqa: E402


def bar_images(n: int = 4) -> tf.Tensor:
    """A vertical bar two pixels wide in the middle of a 28x28 field."""
    images = np.zeros((n, 28, 28, 1), np.float32)
    images[:, 6:22, 13:15, 0] = 1.0
    return tf.constant(images)


def test_identity_transform_leaves_images_unchanged():
    images = bar_images()
    identity = tf.tile(tf.constant([[1.0, 0, 0, 0, 1.0, 0, 0, 0]]), [4, 1])
    np.testing.assert_allclose(augment.transform(images, identity).numpy(), images.numpy(), atol=1e-6)


def test_zero_amplitude_affine_is_identity():
    matrices = augment.affine_matrices(3, 28, max_degrees=0.0, scale_range=(1.0, 1.0), max_shift=0.0)
    np.testing.assert_allclose(matrices.numpy(), np.tile([[1, 0, 0, 0, 1, 0, 0, 0]], (3, 1)), atol=1e-6)


def test_shift_moves_the_centre_of_mass():
    matrices = tf.tile(tf.constant([[1.0, 0, -3.0, 0, 1.0, 0, 0, 0]]), [1, 1])  # input x = output x - 3
    moved = augment.transform(bar_images(1), matrices).numpy()[0, :, :, 0]
    columns = np.nonzero(moved.sum(axis=0))[0]
    assert list(columns) == [16, 17]


def test_stroke_width_thickens_and_thins():
    tf.random.set_seed(3)
    images = bar_images(64)
    out = augment.stroke_width(images, max_amount=0.6).numpy()
    mass = out.reshape(64, -1).sum(axis=1)
    base = images.numpy()[0].sum()
    assert mass.max() > base * 1.2 and mass.min() < base * 0.8


def test_blur_spreads_ink_and_keeps_mass_inside():
    out = augment.blur(bar_images(32), max_amount=1.0).numpy()
    assert (out[:, 10, 12, 0] > 0).any()  # ink reaches the neighbouring column
    assert out.max() <= 1.0 + 1e-6


def test_specks_and_fragments_only_add_ink():
    tf.random.set_seed(5)
    images = bar_images(256)
    for noisy in (augment.specks(images, probability=1.0), augment.line_fragments(images, probability=1.0)):
        noisy = noisy.numpy()
        assert (noisy >= images.numpy() - 1e-6).all()
        assert (noisy.reshape(256, -1).sum(axis=1) > images.numpy()[0].sum()).mean() > 0.9


def test_augment_digits_keeps_shape_dtype_and_range():
    tf.random.set_seed(11)
    out = augment.augment_digits(bar_images(16))
    assert out.shape == (16, 28, 28, 1) and out.dtype == tf.float32
    values = out.numpy()
    assert values.min() >= 0.0 and values.max() <= 1.0
    assert not np.allclose(values, bar_images(16).numpy())


def test_augment_share_leaves_the_rest_of_the_batch_as_it_is():
    """About the share asked for is augmented; the others come back bit for bit."""
    tf.random.set_seed(5)
    images = bar_images(400)
    out = augment.augment_share(augment.augment_digits, 0.25)(images).numpy()
    changed = ~np.all(out == images.numpy(), axis=(1, 2, 3))
    assert 0.15 < changed.mean() < 0.35
    assert augment.augment_share(augment.augment_digits, 1.0) is augment.augment_digits


def flat_batch(n: int = 16, side: int = 64) -> tf.data.Dataset:
    """Image i is filled with the value i, so every pixel tells which image it came from; labels one-hot."""
    images = np.stack([np.full((side, side, 3), float(i), np.float32) for i in range(n)])
    return augment.one_hot_labels(tf.data.Dataset.from_tensor_slices((images, np.arange(n) % 5)).batch(n), 5)


def test_cutmix_labels_are_the_pasted_areas():
    images, labels = next(iter(augment.cutmix_some(flat_batch(), 1.0, seed=3)))
    images, labels = images.numpy(), labels.numpy()
    assert labels.shape == (16, 5)
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, atol=1e-5)
    mixed = 0
    for i in range(16):
        values, counts = np.unique(images[i, :, :, 0], return_counts=True)
        expected = np.zeros(5)
        for value, count in zip(values, counts, strict=True):
            expected[int(value) % 5] += count / images[i, :, :, 0].size
        # Keras measures the box with fractional edges, the pixels round them: at most a row and a column apart.
        np.testing.assert_allclose(labels[i], expected, atol=2 / 64)
        mixed += len(values) > 1
    assert mixed >= 8  # Beta(1, 1) areas: most images get a patch


def test_one_hot_labels_and_cutmix_share_zero_leave_images_alone():
    source_images, one_hot = next(iter(flat_batch()))
    np.testing.assert_array_equal(one_hot.numpy(), np.eye(5)[np.arange(16) % 5])
    images, labels = next(iter(augment.cutmix_some(flat_batch(), 0.0, seed=3)))
    np.testing.assert_array_equal(images.numpy(), source_images.numpy())
    np.testing.assert_array_equal(labels.numpy(), one_hot.numpy())


def test_non_digits_get_the_uniform_target() -> None:
    from training.augment import one_hot_labels

    images = tf.zeros([3, 28, 28, 1])
    dataset = tf.data.Dataset.from_tensors((images, tf.constant([2, -1, 0])))
    _, targets = next(iter(one_hot_labels(dataset, 10)))
    np.testing.assert_allclose(targets.numpy()[0], np.eye(10)[2])
    np.testing.assert_allclose(targets.numpy()[1], np.full(10, 0.1), rtol=1e-6)
    np.testing.assert_allclose(targets.numpy()[2], np.eye(10)[0])


def test_energy_margin_loss_pushes_scores_apart():
    import keras

    from training.losses import EnergyMarginCrossEntropy

    loss = EnergyMarginCrossEntropy(margin_in=7.0, margin_out=0.0, weight=0.1)
    plain = keras.losses.CategoricalCrossentropy(from_logits=True)
    digit = np.eye(10, dtype="float32")[[3]]
    outlier = np.full((1, 10), 0.1, "float32")
    confident = np.where(np.arange(10) == 3, 12.0, 0.0).astype("float32")[None]  # score ~12 >= 7: no margin
    timid = np.where(np.arange(10) == 3, 2.0, 0.0).astype("float32")[None]  # score ~2.9 < 7
    assert float(loss(digit, confident)) == pytest.approx(float(plain(digit, confident)), abs=1e-5)
    margin = 0.1 * (7 - np.log(np.exp(2) + 9)) ** 2
    assert float(loss(digit, timid)) == pytest.approx(float(plain(digit, timid)) + margin, rel=1e-4)
    flat_low, flat_high = np.full((1, 10), -3.0, "float32"), np.full((1, 10), 1.0, "float32")
    assert float(loss(outlier, flat_low)) == pytest.approx(float(plain(outlier, flat_low)), abs=1e-5)
    assert float(loss(outlier, flat_high)) > float(plain(outlier, flat_high)) + 0.1
