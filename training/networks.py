"""Network builders, looked up by the config's ``network`` name. Every network outputs logits.

Each builder takes ``input_shape``, ``num_classes`` and its own keyword arguments (the config's
``network_args``); ``training.network_args`` lists which each accepts, so a config is checked before training.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers


def mlp(input_shape: tuple[int, ...], num_classes: int, *, activation: str = "relu", dropout_amount: float = 0.2,
        units: int = 512, layers_count: int = 2) -> keras.Model:
    """The digit briefs' baseline: dense layers on the flattened image."""
    inputs = keras.Input(input_shape)
    x = layers.Flatten()(inputs)
    for _ in range(layers_count):
        x = layers.Dense(units, activation=activation)(x)
        x = layers.Dropout(dropout_amount)(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x), name="mlp")


def lenet5(input_shape: tuple[int, ...], num_classes: int, *, activation: str = "relu",
           dropout_amount: float = 0.2) -> keras.Model:
    """LeNet-5 (6 and 16 5x5 filters, 120/84 dense), with padding on the first layer for 28x28 inputs."""
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(6, 5, padding="same", activation=activation)(inputs)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Conv2D(16, 5, activation=activation)(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(120, activation=activation)(x)
    x = layers.Dropout(dropout_amount)(x)
    x = layers.Dense(84, activation=activation)(x)
    x = layers.Dropout(dropout_amount)(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x), name="lenet5")


def _conv_bn(x, filters: int, activation: str, kernel: int = 3, strides: int = 1):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation(activation)(x)


def cnn(input_shape: tuple[int, ...], num_classes: int, *, activation: str = "relu", dropout_amount: float = 0.3,
        width: int = 24, head_units: int = 0) -> keras.Model:
    """The shipped digit network: three conv stages with batch norm, global pooling; about 80K parameters
    (small enough for well under a millisecond per digit through TFLite, and for a CPU training run).

    ``head_units`` > 0 replaces the global pooling with a dense layer over the whole 7x7 map: the classifier then
    sees where each stroke feature lies, not only which features occur (a "?" and a "7" share their parts).
    """
    inputs = keras.Input(input_shape)
    x = _conv_bn(inputs, width, activation)
    x = _conv_bn(x, width, activation)
    x = layers.MaxPooling2D()(x)
    x = _conv_bn(x, 2 * width, activation)
    x = _conv_bn(x, 2 * width, activation)
    x = layers.MaxPooling2D()(x)
    x = _conv_bn(x, 4 * width, activation)
    if head_units > 0:
        x = layers.Flatten()(x)
        x = layers.Dropout(dropout_amount)(x)
        x = layers.Dense(head_units, activation=activation)(x)
    else:
        x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout_amount)(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x), name="cnn")


def flowers_cnn(input_shape: tuple[int, ...], num_classes: int, *, activation: str = "relu",
                dropout_amount: float = 0.2) -> keras.Model:
    """The flower brief's reference network (TensorFlow image-classification tutorial), kept as the baseline."""
    inputs = keras.Input(input_shape)
    x = layers.RandomFlip("horizontal")(inputs)
    x = layers.RandomRotation(0.1)(x)
    x = layers.RandomZoom(0.1)(x)
    x = layers.Rescaling(1.0 / 255)(x)
    for filters in (16, 32, 64):
        x = layers.Conv2D(filters, 3, padding="same", activation=activation)(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Dropout(dropout_amount)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation=activation)(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x), name="flowers_cnn")


def _photo_augmentation(x, *, contrast: float, brightness: float, zoom: float, rotation: float,
                        translation: float, hue: float = 0.0, saturation: float = 0.0):
    """Training-only augmentation on [0, 255] inputs; contrast and colour act BEFORE rescaling (Keras 3 clips
    ``RandomContrast`` to value_range=(0, 255))."""
    x = layers.RandomFlip("horizontal")(x)
    x = layers.RandomRotation(rotation, fill_mode="reflect")(x)
    x = layers.RandomZoom((-zoom, zoom), fill_mode="reflect")(x)
    x = layers.RandomTranslation(translation, translation, fill_mode="reflect")(x)
    x = layers.RandomContrast(contrast, value_range=(0, 255))(x)
    x = layers.RandomBrightness(brightness, value_range=(0, 255))(x)
    if hue:
        x = layers.RandomHue(hue, value_range=(0, 255))(x)
    if saturation:
        x = layers.RandomSaturation(saturation, value_range=(0, 255))(x)
    return x


def _residual_block(x, filters: int, activation: str, strides: int):
    shortcut = x
    y = _conv_bn(x, filters, activation, strides=strides)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    if strides != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=strides, use_bias=False)(shortcut)
        shortcut = layers.BatchNormalization()(shortcut)
    return layers.Activation(activation)(layers.Add()([y, shortcut]))


def flowers_resnet(input_shape: tuple[int, ...], num_classes: int, *, activation: str = "relu",
                   dropout_amount: float = 0.3, inner_size: int = 128, width: int = 32) -> keras.Model:
    """The shipped flower network: photometric + geometric augmentation, resize to ``inner_size`` inside the net
    (the 180x180 input contract stays, compute drops ~2x), a small residual CNN trained from scratch."""
    inputs = keras.Input(input_shape)
    x = inputs
    if inner_size and inner_size != input_shape[0]:  # first, so the augmentation also runs on fewer pixels
        x = layers.Resizing(inner_size, inner_size, interpolation="bilinear")(x)
    # Moderate on purpose: a stronger mix (rotation 0.08, zoom 0.2, contrast 0.3, saturation 0.3) underfitted
    # here (61% train / 59% validation after 15 of 40 epochs).
    x = _photo_augmentation(x, contrast=0.2, brightness=0.15, zoom=0.15, rotation=0.05, translation=0.08)
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0)(x)
    x = _conv_bn(x, width, activation, strides=2)
    x = _conv_bn(x, width, activation)
    x = layers.MaxPooling2D()(x)  # a ResNet-style stem: the residual stages start at inner_size / 4
    for i, filters in enumerate((width, 2 * width, 4 * width, 8 * width)):
        x = _residual_block(x, filters, activation, strides=1 if i == 0 else 2)
        x = _residual_block(x, filters, activation, strides=1)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout_amount)(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x), name="flowers_resnet")


def mugs_cnn(input_shape: tuple[int, ...], num_classes: int, *, activation: str = "relu",
             dropout_amount: float = 0.3, width: int = 32) -> keras.Model:
    """The shipped mug network: strong photometric augmentation (eval photos differ in light and background),
    then a small residual CNN on 64x64 inputs."""
    inputs = keras.Input(input_shape)
    x = _photo_augmentation(inputs, contrast=0.4, brightness=0.3, zoom=0.25, rotation=0.1, translation=0.15,
                            hue=0.05, saturation=0.3)
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0)(x)
    x = _conv_bn(x, width, activation)
    x = layers.MaxPooling2D()(x)  # 64 -> 32: the residual stages run at 32, 16, 8, 4 pixels
    for i, filters in enumerate((width, 2 * width, 4 * width, 8 * width)):
        x = _residual_block(x, filters, activation, strides=1 if i == 0 else 2)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout_amount)(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x), name="mugs_cnn")


def with_test_time_flip(model: keras.Model) -> keras.Model:
    """The same network answering the mean of its logits for the image and its left-right mirror image.

    Why: a flower is a flower mirrored, and averaging the two views is worth about a point of validation accuracy
    for the price of a second forward pass. Built from stock layers and ``keras.ops`` so ``model.keras`` loads
    without custom objects and the TFLite converter sees two calls of one set of weights.
    """
    inputs = keras.Input(model.input_shape[1:])
    mirrored = keras.ops.flip(inputs, axis=2)  # NHWC: axis 2 is the width
    return keras.Model(inputs, layers.Average()([model(inputs), model(mirrored)]), name=f"{model.name}_flip_avg")


NETWORKS: dict[str, Callable[..., keras.Model]] = {
    "mlp": mlp,
    "lenet5": lenet5,
    "cnn": cnn,
    "flowers_cnn": flowers_cnn,
    "flowers_resnet": flowers_resnet,
    "mugs_cnn": mugs_cnn,
}

def build(name: str, input_shape: tuple[int, ...], num_classes: int, **kwargs) -> keras.Model:
    """Build the network ``name``; arguments are assumed validated (see ``training.config``)."""
    return NETWORKS[name](tuple(input_shape), num_classes, **kwargs)
