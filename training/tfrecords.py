"""MNIST as sharded TFRecord files, and the ``tf.data`` pipeline that reads them back.

Each transformation is its own function (serialise, parse, normalise, pipeline) so each can be unit-tested.
Files are named ``<split>-<index>-of-<count>.tfrecord``; an example holds the raw uint8 pixels, the label,
and the image height and width (so a reader can check the shape instead of trusting it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

SPLITS = ("train", "test")


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def serialize_example(image: np.ndarray, label: int) -> bytes:
    """One uint8 (H, W) image and its label -> a serialised ``tf.train.Example``."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 2:
        raise ValueError(f"expected a uint8 (H, W) image, got {image.dtype} {image.shape}")
    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.tobytes()])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
        "height": tf.train.Feature(int64_list=tf.train.Int64List(value=[image.shape[0]])),
        "width": tf.train.Feature(int64_list=tf.train.Int64List(value=[image.shape[1]])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_split(images: np.ndarray, labels: np.ndarray, out_dir: Path, split: str, shards: int) -> list[Path]:
    """Write one split as ``shards`` files of (nearly) equal size, in the original order (round-robin free)."""
    if len(images) != len(labels):
        raise ValueError(f"{split}: {len(images)} images but {len(labels)} labels")
    if shards < 1:
        raise ValueError("shards must be >= 1")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, part in enumerate(np.array_split(np.arange(len(images)), shards)):
        path = out_dir / shard_name(split, index, shards)
        with tf.io.TFRecordWriter(str(path)) as writer:
            for i in part:
                writer.write(serialize_example(images[i], int(labels[i])))
        paths.append(path)
    return paths


def convert_mnist(npz_path: Path, out_dir: Path, shards: int = 4, test_shards: int = 1) -> dict[str, list[Path]]:
    """``mnist.npz`` (x_train, y_train, x_test, y_test) -> sharded TFRecords in ``out_dir``."""
    with np.load(npz_path) as data:
        return {
            "train": write_split(data["x_train"], data["y_train"], out_dir, "train", shards),
            "test": write_split(data["x_test"], data["y_test"], out_dir, "test", test_shards),
        }


def shard_files(directory: Path, split: str) -> list[Path]:
    files = sorted(directory.glob(f"{split}-*-of-*.tfrecord"))
    if not files:
        raise FileNotFoundError(f"no {split} TFRecord shards in {directory}")
    return files


FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.int64),
    "height": tf.io.FixedLenFeature([], tf.int64),
    "width": tf.io.FixedLenFeature([], tf.int64),
}


def parse_example(serialized: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Serialised example -> (uint8 (H, W, 1) image, int64 label)."""
    parsed = tf.io.parse_single_example(serialized, FEATURES)
    pixels = tf.io.decode_raw(parsed["image"], tf.uint8)
    image = tf.reshape(pixels, tf.stack([parsed["height"], parsed["width"], 1]))
    return image, parsed["label"]


def normalise(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """uint8 [0, 255] -> float32 [0, 1] (the digit model's input convention); label -> int32."""
    return tf.cast(image, tf.float32) / 255.0, tf.cast(label, tf.int32)


def dataset(files: list[Path], batch_size: int, *, shuffle: bool = False, seed: int | None = None,
            augment: Callable[[tf.Tensor], tf.Tensor] | None = None,
            image_shape: tuple[int, int, int] = (28, 28, 1)) -> tf.data.Dataset:
    """Read shards -> parse -> normalise -> (shuffle) -> batch -> (augment whole batches) -> prefetch."""
    ds = tf.data.TFRecordDataset([str(f) for f in files])
    ds = ds.map(parse_example, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(normalise, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(lambda x, y: (tf.ensure_shape(x, image_shape), y))
    if shuffle:
        ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment is not None:
        ds = ds.map(lambda x, y: (augment(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def load_arrays(files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """All examples of some shards as numpy: float32 (N, H, W, 1) in [0, 1] and int32 labels."""
    xs, ys = [], []
    for x, y in dataset(files, 4096):
        xs.append(x.numpy())
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys)
