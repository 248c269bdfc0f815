"""MNIST -> sharded TFRecords -> tf.data: every transformation, on a small synthetic npz (no shared data needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from training import tfrecords  # noqa: E402


@pytest.fixture(scope="module")
def npz(tmp_path_factory) -> Path:
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("npz") / "mnist.npz"
    np.savez(path, x_train=rng.integers(0, 256, (103, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, 103).astype(np.uint8),
             x_test=rng.integers(0, 256, (21, 28, 28), dtype=np.uint8),
             y_test=rng.integers(0, 10, 21).astype(np.uint8))
    return path


@pytest.fixture(scope="module")
def shards(npz: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("records")
    tfrecords.convert_mnist(npz, out, shards=4, test_shards=2)
    return out


def test_serialize_parse_round_trip_is_exact():
    image = np.arange(28 * 28, dtype=np.int64).reshape(28, 28).astype(np.uint8)
    parsed, label = tfrecords.parse_example(tf.constant(tfrecords.serialize_example(image, 9)))
    assert parsed.dtype == tf.uint8 and parsed.shape == (28, 28, 1)
    np.testing.assert_array_equal(parsed.numpy()[..., 0], image)
    assert int(label) == 9


@pytest.mark.parametrize("bad", [np.zeros((28, 28), np.float32), np.zeros((28, 28, 1), np.uint8)])
def test_serialize_rejects_wrong_dtype_or_rank(bad):
    with pytest.raises(ValueError, match="uint8"):
        tfrecords.serialize_example(bad, 1)


def test_normalise_scales_to_unit_range_and_int_labels():
    image = tf.constant([[[0]], [[255]], [[51]]], dtype=tf.uint8)
    out, label = tfrecords.normalise(image, tf.constant(3, tf.int64))
    assert out.dtype == tf.float32 and label.dtype == tf.int32
    np.testing.assert_allclose(out.numpy().ravel(), [0.0, 1.0, 0.2], rtol=1e-6)


def test_shard_counts_and_names(shards: Path):
    train = tfrecords.shard_files(shards, "train")
    test = tfrecords.shard_files(shards, "test")
    assert [p.name for p in train] == [f"train-0000{i}-of-00004.tfrecord" for i in range(4)]
    assert len(test) == 2
    counts = [sum(1 for _ in tf.data.TFRecordDataset(str(p))) for p in train]
    assert sum(counts) == 103 and max(counts) - min(counts) <= 1


def test_files_read_back_equal_the_npz(npz: Path, shards: Path):
    with np.load(npz) as data:
        for split in ("train", "test"):
            x, y = tfrecords.load_arrays(tfrecords.shard_files(shards, split))
            assert x.shape == (len(data[f"x_{split}"]), 28, 28, 1) and x.dtype == np.float32
            assert y.dtype == np.int32
            np.testing.assert_array_equal(np.round(x[..., 0] * 255).astype(np.uint8), data[f"x_{split}"])
            np.testing.assert_array_equal(y, data[f"y_{split}"])


def test_pipeline_shuffles_batches_and_keeps_ranges(shards: Path):
    files = tfrecords.shard_files(shards, "train")
    batches = list(tfrecords.dataset(files, 32, shuffle=True, seed=1))
    assert [int(x.shape[0]) for x, _ in batches] == [32, 32, 32, 7]
    x = np.concatenate([b[0].numpy() for b in batches])
    y = np.concatenate([b[1].numpy() for b in batches])
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert set(np.unique(y)) <= set(range(10))
    ordered_x, ordered_y = tfrecords.load_arrays(files)
    assert not np.array_equal(y, ordered_y)  # shuffled ...
    rows = sorted(map(bytes, x.reshape(len(x), -1)))
    assert rows == sorted(map(bytes, ordered_x.reshape(len(x), -1)))  # ... the same examples


def test_pipeline_applies_batch_augmentation(shards: Path):
    files = tfrecords.shard_files(shards, "test")
    x, _ = next(iter(tfrecords.dataset(files, 8, augment=lambda b: 1.0 - b)))
    plain, _ = next(iter(tfrecords.dataset(files, 8)))
    np.testing.assert_allclose(x.numpy(), 1.0 - plain.numpy(), atol=1e-6)


def test_mismatched_lengths_and_missing_shards_fail_clearly(tmp_path: Path):
    with pytest.raises(ValueError, match="labels"):
        tfrecords.write_split(np.zeros((3, 28, 28), np.uint8), np.zeros(2), tmp_path, "train", 1)
    with pytest.raises(FileNotFoundError, match="no train TFRecord shards"):
        tfrecords.shard_files(tmp_path, "train")
