"""Vectorised, batch-level augmentations (run inside ``tf.data.Dataset.map`` on whole batches).

The digit augmentations aim at what the photo -> MNIST pipeline (``service.preprocessing.to_mnist``) hands the
network: a digit fitted to a 20x20 box and centred by centre of mass, but with slightly different size, slant,
stroke width and sharpness than MNIST, and sometimes a speck or a fragment of a ruled line left over.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import tensorflow as tf

MNIST_SIDE = 28


def affine_matrices(batch: int, side: int, max_degrees: float, scale_range: tuple[float, float],
                    max_shift: float, max_shear: float = 0.0) -> tf.Tensor:
    """Per-example projective transforms (output -> input coordinates) for ``ImageProjectiveTransformV3``.

    Rotation, isotropic scale, shear and shift about the image centre.
    """
    angle = tf.random.uniform([batch], -max_degrees, max_degrees) * (math.pi / 180.0)
    scale = tf.random.uniform([batch], scale_range[0], scale_range[1])
    shear = tf.random.uniform([batch], -max_shear, max_shear)
    tx = tf.random.uniform([batch], -max_shift, max_shift)
    ty = tf.random.uniform([batch], -max_shift, max_shift)
    c = (side - 1) / 2.0
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    # input = A (output - centre - shift) + centre, with A = R(-angle) / scale, then a horizontal shear.
    a0, a1 = cos, sin + shear * cos
    b0, b1 = -sin, cos - shear * sin
    ox, oy = c + tx, c + ty
    a2 = c - a0 * ox - a1 * oy
    b2 = c - b0 * ox - b1 * oy
    zeros = tf.zeros([batch])
    return tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def transform(images: tf.Tensor, matrices: tf.Tensor) -> tf.Tensor:
    """Apply per-example transforms to (N, H, W, C) float images, bilinear, zero fill."""
    shape = tf.shape(images)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=matrices, output_shape=shape[1:3], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="CONSTANT")


def stroke_width(images: tf.Tensor, max_amount: float = 0.6) -> tf.Tensor:
    """Thicken or thin strokes by a random fraction of a grey-level dilation / erosion (3x3 max/min pool)."""
    batch = tf.shape(images)[0]
    dilated = tf.nn.max_pool2d(images, 3, 1, "SAME")
    eroded = -tf.nn.max_pool2d(-images, 3, 1, "SAME")
    amount = tf.random.uniform([batch, 1, 1, 1], -max_amount, max_amount)
    target = tf.where(amount > 0, dilated, eroded)
    return images + tf.abs(amount) * (target - images)


def blur(images: tf.Tensor, max_amount: float = 0.8) -> tf.Tensor:
    """Blend each image with a 3x3 Gaussian blur of itself by a random amount (camera blur, resampling)."""
    batch = tf.shape(images)[0]
    kernel = tf.constant([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16.0
    kernel = tf.reshape(kernel, [3, 3, 1, 1])
    blurred = tf.nn.depthwise_conv2d(images, kernel, [1, 1, 1, 1], "SAME")
    amount = tf.random.uniform([batch, 1, 1, 1], 0.0, max_amount)
    return images + amount * (blurred - images)


def specks(images: tf.Tensor, probability: float = 0.15, density: float = 0.004) -> tf.Tensor:
    """Add a few isolated bright pixels to some images (residual specks after thresholding)."""
    batch = tf.shape(images)[0]
    chosen = tf.cast(tf.random.uniform([batch, 1, 1, 1]) < probability, images.dtype)
    dots = tf.cast(tf.random.uniform(tf.shape(images)) < density, images.dtype)
    level = tf.random.uniform(tf.shape(images), 0.5, 1.0)
    return tf.maximum(images, chosen * dots * level)


def line_fragments(images: tf.Tensor, probability: float = 0.1) -> tf.Tensor:
    """Add a short horizontal bright segment near the top or bottom edge of some images (a ruled-line remnant)."""
    batch = tf.shape(images)[0]
    side = tf.shape(images)[1]
    rows = tf.range(side)
    top = tf.random.uniform([batch], 0, 4, dtype=tf.int32)
    row = tf.where(tf.random.uniform([batch]) < 0.5, top, side - 1 - top)
    start = tf.random.uniform([batch], 0, side // 2, dtype=tf.int32)
    length = tf.random.uniform([batch], 3, side // 2, dtype=tf.int32)
    row_mask = tf.cast(rows[None, :] == row[:, None], images.dtype)  # (N, H)
    col_mask = tf.cast((rows[None, :] >= start[:, None]) & (rows[None, :] < (start + length)[:, None]), images.dtype)
    chosen = tf.cast(tf.random.uniform([batch]) < probability, images.dtype)
    level = tf.random.uniform([batch], 0.4, 1.0) * chosen
    line = row_mask[:, :, None] * col_mask[:, None, :] * level[:, None, None]
    return tf.maximum(images, line[..., None])


def augment_digits(images: tf.Tensor) -> tf.Tensor:
    """The digit model's training augmentation: geometry, stroke width, blur, specks, line fragments; [0, 1] out."""
    batch = tf.shape(images)[0]
    matrices = affine_matrices(batch, MNIST_SIDE, max_degrees=12.0, scale_range=(0.88, 1.12),
                               max_shift=2.0, max_shear=0.15)
    out = transform(images, matrices)
    out = stroke_width(out)
    out = blur(out)
    out = specks(out)
    out = line_fragments(out)
    return tf.clip_by_value(out, 0.0, 1.0)


def augment_share(augment: Callable[[tf.Tensor], tf.Tensor], share: float) -> Callable[[tf.Tensor], tf.Tensor]:
    """``augment`` applied to about ``share`` of each batch's images, the rest left as they are.

    A finishing stage with a small share lets the network see MNIST's own clean strokes again (its test digits are
    clean) without forgetting the photo-like variations it needs for real photos, which training without any
    augmentation does.
    """
    if share >= 1.0:
        return augment

    def some(images: tf.Tensor) -> tf.Tensor:
        chosen = tf.random.uniform([tf.shape(images)[0], 1, 1, 1]) < share
        return tf.where(chosen, augment(images), images)

    return some


def channel_gain(images: tf.Tensor, max_gain: float, noise: float = 4.0) -> tf.Tensor:
    """Photos in [0, 255]: per-image, per-channel colour gains (white balance, tinted light and table colours)
    plus a little sensor noise. Keras has brightness/contrast/hue layers but no per-channel gain, and keeping this
    in the input pipeline keeps custom layers out of the exported model."""
    batch = tf.shape(images)[0]
    gains = tf.random.uniform([batch, 1, 1, 3], 1.0 - max_gain, 1.0 + max_gain)
    grain = tf.random.normal(tf.shape(images), stddev=noise)
    return tf.clip_by_value(images * gains + grain, 0.0, 255.0)


def one_hot_labels(dataset: tf.data.Dataset, num_classes: int) -> tf.data.Dataset:
    """Batches of (images, integer labels) -> (images, one-hot labels): the form soft labels (label smoothing,
    CutMix) and Keras' ``CategoricalCrossentropy`` need.

    A label of -1 marks a non-digit (outlier exposure): its target is the uniform distribution, so the network
    learns to spread its probability over the classes for things that belong to none of them.
    """
    def encode(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        labels = tf.cast(labels, tf.int32)
        outlier = tf.cast(labels < 0, tf.float32)[:, None]
        return images, tf.one_hot(labels, num_classes) + outlier / num_classes  # one_hot(-1) is all zeros

    return dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE)


def cutmix_some(dataset: tf.data.Dataset, probability: float, seed: int) -> tf.data.Dataset:
    """Batches of (images, one-hot labels), a ``probability`` share of them mixed by Keras' ``CutMix`` (a patch of
    another image of the batch pasted in, labels mixed by the patch's area); 0.5 and Beta(1, 1) are the CutMix
    paper's CIFAR settings.

    Why: the flower network reached 96% training accuracy while validation stalled near 84%; CutMix is a standard
    regulariser against that, and mixing only some batches leaves the network clean images to fit as well.
    """
    import keras

    cutmix = keras.layers.CutMix(factor=(1.0, 1.0), seed=seed)  # area ratio ~ Beta(1, 1), as in the CutMix paper

    def mix(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        def mixed() -> tuple[tf.Tensor, tf.Tensor]:
            out = cutmix({"images": images, "labels": labels}, training=True)
            return tf.cast(out["images"], images.dtype), tf.cast(out["labels"], labels.dtype)

        return tf.cond(tf.random.uniform([]) < probability, mixed, lambda: (images, labels))

    return dataset.map(mix, num_parallel_calls=tf.data.AUTOTUNE)
