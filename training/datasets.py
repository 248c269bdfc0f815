"""Data sources named by the config's ``dataset``: MNIST (npz or TFRecords), an image folder with a seeded
validation split (flowers), and ``train/`` + ``eval/`` folders (mugs) with a final mode that trains on both.

Every source yields the same thing, a ``Data``: training and evaluation arrays (or a ``tf.data`` pipeline for
TFRecords), the labels, the input spec and preprocessing the manifest records, and checksums of what was read.
Photos are loaded with the service's own ``decode_image`` + ``to_rgb_input``, so training sees the pixels the
service will see.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from service.inference.versions import sha256_file
from service.preprocessing import decode_image, to_rgb_input
from training import tfrecords
from training.augment import augment_digits
from training.augment import augment_share as augment_share_of
from training.augment import channel_gain as gain_jitter

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
DEFAULT_MNIST = SHARED_DATA / "mnist" / "mnist.npz"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
MAX_PIXELS = 50_000_000


@dataclass
class Data:
    """What a training run consumes. Arrays are float32 network inputs, labels int32."""

    labels: list[str]
    input_shape: tuple[int, ...]
    preprocessing: dict[str, Any]
    input_range: list[float]
    x_train: np.ndarray | None
    y_train: np.ndarray | None
    x_eval: np.ndarray | None
    y_eval: np.ndarray | None
    eval_name: str  # "test", "validation" or "eval"
    info: dict[str, Any] = field(default_factory=dict)
    augment: Callable[[tf.Tensor], tf.Tensor] | None = None
    train_files: list[Path] | None = None  # TFRecord shards, read through tf.data instead of x_train
    held_out: Any = None  # training.export.HeldOut: never trained on; fits calibration and the digit gate

    @property
    def train_count(self) -> int:
        return int(self.info.get("train_count", 0 if self.x_train is None else len(self.x_train)))

    def train_dataset(self, batch_size: int, seed: int) -> tf.data.Dataset:
        """Shuffled, batched, augmented (digits) training pipeline."""
        if self.train_files:
            return tfrecords.dataset(self.train_files, batch_size, shuffle=True, seed=seed, augment=self.augment,
                                     image_shape=self.input_shape)
        ds = tf.data.Dataset.from_tensor_slices((self.x_train, self.y_train))
        ds = ds.shuffle(len(self.x_train), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
        ds = ds.map(lambda x, y: (tf.cast(x, tf.float32), y))  # photos are stored as uint8
        if self.augment is not None:
            ds = ds.map(lambda x, y: (self.augment(x), y), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)


def _subset(x: np.ndarray, y: np.ndarray, limit: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not limit or limit >= len(x):
        return x, y
    keep = np.sort(np.random.default_rng(seed).permutation(len(x))[:limit])
    return x[keep], y[keep]


def mnist_dataset(*, path: str | None = None, tfrecords_dir: str | None = None, image_size: list[int] | None = None,
                  limit: int | None = None, seed: int = 0, augment: bool = True, augment_share: float = 1.0,
                  synthetic: dict[str, Any] | None = None) -> Data:
    """MNIST from ``mnist.npz`` (default: ../shared/data, else the Keras download) or a TFRecord directory.

    ``synthetic`` adds rendered photos and drawings of MNIST training digits and rendered non-digits, all passed
    through the service's preprocessing (``training.synth``), and keeps a held-out share of them and of MNIST's
    training digits for calibration and the digit gate (see ``with_synthetic``). ``augment_share`` is the share of
    each batch that gets the digit augmentation.
    """
    shape = tuple(image_size or (28, 28, 1))
    if tuple(shape) != (28, 28, 1):
        raise ValueError(f"MnistDataset image_size must be [28, 28, 1], got {list(shape)}")
    common = dict(labels=[str(d) for d in range(10)], input_shape=shape, preprocessing={"kind": "mnist"},
                  input_range=[0, 1], eval_name="test",
                  augment=augment_share_of(augment_digits, augment_share) if augment else None)
    if tfrecords_dir:
        directory = Path(tfrecords_dir)
        train_files = tfrecords.shard_files(directory, "train")
        x_test, y_test = tfrecords.load_arrays(tfrecords.shard_files(directory, "test"))
        x_test, y_test = _subset(x_test, y_test, limit, seed)
        info = {"source": str(directory), "format": "tfrecord",
                "shards": {f.name: sha256_file(f) for f in train_files}}
        if limit:  # a small run reads the shards into memory and keeps a subset
            x_train, y_train = _subset(*tfrecords.load_arrays(train_files), limit, seed)
            return Data(x_train=x_train, y_train=y_train, x_eval=x_test, y_eval=y_test, info=info, **common)
        info["train_count"] = sum(1 for _ in tf.data.TFRecordDataset([str(f) for f in train_files]))
        return Data(x_train=None, y_train=None, x_eval=x_test, y_eval=y_test, info=info, train_files=train_files,
                    **common)
    if path is None and DEFAULT_MNIST.is_file():
        path = str(DEFAULT_MNIST)
    if path is None:
        import keras

        log.info("no mnist.npz given and %s absent: using the public Keras MNIST download", DEFAULT_MNIST)
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        info = {"source": "keras.datasets.mnist"}
    else:
        with np.load(path) as data:
            x_train, y_train, x_test, y_test = (data[k] for k in ("x_train", "y_train", "x_test", "y_test"))
        info = {"source": str(path), "sha256": sha256_file(Path(path))}
    info["x_train_sha256"] = hashlib.sha256(np.ascontiguousarray(x_train).tobytes()).hexdigest()

    def to_input(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float32) / 255.0)[..., None]

    x_train, y_train = _subset(x_train, y_train, limit, seed)
    x_test, y_test = _subset(x_test, y_test, limit, seed + 1)
    data = Data(x_train=to_input(x_train), y_train=y_train.astype(np.int32), x_eval=to_input(x_test),
                y_eval=y_test.astype(np.int32), info=info, **common)
    if synthetic:
        with_synthetic(data, Path(path) if path else None, **synthetic)
    return data


SYNTHETIC_DEFAULTS = {"digits": 40000, "negatives": 24000, "held_out_digits": 5000, "held_out_negatives": 5000,
                      "seed": 0, "workers": 2, "drop_straight_negatives": False, "drop_misread_by": "",
                      "gate_chosen_on": "mnist", "gate_max_refused": 0.005, "gate_min_refused": 0.98}
MNIST_HELD_OUT = 55000  # MNIST training digits from this index on are never trained on when ``synthetic`` is set


def synthetic_photos(root: Path) -> tuple[list[Path], list[Path]]:
    """Photos for rendered non-digits: (for training, held out). Training takes the flower photos of the flowers
    model's training split and mugs' train/; the held-out non-digits take its validation split and mugs' eval/, so
    the refusal rates are measured on photos the digit network never saw."""
    flowers = root / "flowers"
    _, files, _ = list_images(flowers) if flowers.is_dir() else ([], [], None)
    train, val = split_indices(len(files), 0.2, 123) if files else ([], [])
    mugs = root / "mugs"
    return ([files[i] for i in train] + sorted(mugs.glob("train/*/*.jpg")),
            [files[i] for i in val] + sorted(mugs.glob("eval/*/*.jpg")))


def synthetic_renders(split: str, digits: int, negatives: int, seed: int, workers: int, mnist: Path,
                      photos: list[Path]) -> dict[str, Any]:
    """Rendered digits and non-digits of one split, passed through the service's preprocessing, as network inputs.

    Cached under ``runs/synth/`` by the arguments and a hash of the preprocessing and rendering code, so a change
    to either renders afresh. Returns ``x`` (float32, N x 28 x 28 x 1), ``y`` (the digit, -1 for a non-digit),
    ``kind`` and the cache file's ``cache`` name.
    """
    from training.synth.cache import build, tasks

    code = hashlib.sha256()
    for folder in (REPO / "service" / "preprocessing", REPO / "training" / "synth"):
        for source in sorted(folder.rglob("*.py")):
            code.update(source.read_bytes())
    name = f"{split}-d{digits}-n{negatives}-s{seed}-{code.hexdigest()[:12]}.npz"
    cache = REPO / "runs" / "synth" / name
    if not cache.is_file():
        log.info("rendering %d digits and %d non-digits (%s split) into %s", digits, negatives, split, cache)
        arrays = build(tasks(seed, split, digits, negatives), workers, mnist, photos)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, **arrays)
    with np.load(cache) as f:
        return {"x": (f["x"].astype(np.float32) / 255.0)[..., None], "y": f["y"].astype(np.int32),
                "kind": f["kind"].astype(str), "cache": name}


def held_out_examples(x_mnist: np.ndarray, y_mnist: np.ndarray, held: dict[str, Any], args: dict[str, Any]) -> Any:
    """The ``HeldOut`` set of a synthetic recipe: MNIST's training digits from ``MNIST_HELD_OUT`` on (as network
    inputs) and the held-out renders of ``synthetic_renders``, with the gate rule of ``args`` (synthetic args)."""
    from training.export import HeldOut

    return HeldOut(
        np.concatenate([x_mnist[MNIST_HELD_OUT:], held["x"]]),
        np.concatenate([y_mnist[MNIST_HELD_OUT:], held["y"]]),
        np.concatenate([np.full(len(x_mnist[MNIST_HELD_OUT:]), "mnist"), held["kind"]]),
        max_refused=args["gate_max_refused"], chosen_on=args["gate_chosen_on"], min_refused=args["gate_min_refused"])


def with_synthetic(data: Data, mnist_path: Path | None, **args: Any) -> None:
    """Add rendered photos, drawings and non-digits to ``data`` and set held-out examples aside.

    Rendering (``training.synth``) passes every image through the service's own ``to_mnist``, so the network learns
    what the preprocessing really hands it. Renders are cached under ``runs/synth/`` by their arguments and a hash
    of the preprocessing and rendering code. Non-digits get the label -1 (trained towards the uniform distribution).
    Held out, never trained on: MNIST's training digits from index 55,000 (the renders of the training set come
    from the indices below it), renders of those digits, and non-digits made from held-out photos with other seeds.
    """
    from training.selection import misread_by, straight_strokes

    args = {**SYNTHETIC_DEFAULTS, **args}  # the keys and their types were checked with the config
    mnist = mnist_path or DEFAULT_MNIST
    train_photos, held_photos = synthetic_photos(SHARED_DATA)

    def rendered(split: str, digits: int, negatives: int, photos: list[Path]) -> dict[str, np.ndarray]:
        return synthetic_renders(split, digits, negatives, args["seed"], args["workers"], mnist, photos)

    train = rendered("train", args["digits"], args["negatives"], train_photos)
    held = rendered("holdout", args["held_out_digits"], args["held_out_negatives"], held_photos)
    x_mnist, y_mnist = data.x_train, data.y_train
    data.held_out = held_out_examples(x_mnist, y_mnist, held, args)
    # A rendered digit the preprocessing found no ink in would teach the network a digit from an empty input.
    from service.inference.gate import MIN_INK_MASS

    has_ink = train["x"].reshape(len(train["x"]), -1).sum(axis=1) >= MIN_INK_MASS
    usable = (train["y"] < 0) | has_ink
    dropped = {"digits_without_ink_dropped": int((~usable).sum())}
    if args["drop_straight_negatives"]:  # only the inked non-digits are measured
        straight = (train["y"] < 0) & has_ink
        straight[straight] = straight_strokes(train["x"][straight])
        usable &= ~straight
        dropped["straight_negatives_dropped"] = int(straight.sum())
    if args["drop_misread_by"]:  # only the digits still used are read by the teacher
        misread = (train["y"] >= 0) & usable
        misread[misread] = misread_by(REPO / args["drop_misread_by"], train["x"][misread], train["y"][misread])
        usable &= ~misread
        dropped["misread_digits_dropped"] = int(misread.sum())
    log.info("rendered images left out of training: %s", dropped)
    data.x_train = np.concatenate([x_mnist[:MNIST_HELD_OUT], train["x"][usable]])
    data.y_train = np.concatenate([y_mnist[:MNIST_HELD_OUT], train["y"][usable]])
    data.info["synthetic"] = {
        **args, "caches": [train["cache"], held["cache"]], "mnist_held_out_from_index": MNIST_HELD_OUT, **dropped,
        "kinds": {k: int((train["kind"] == k).sum()) for k in np.unique(train["kind"])},
        "held_out_kinds": {k: int((held["kind"] == k).sum()) for k in np.unique(held["kind"])}}


def class_folders(root: Path) -> list[tuple[str, Path]]:
    """(label, folder) per class sub-folder, in sorted folder order; a leading class index ("0white") is dropped
    from the label, so the folder order is the label order."""
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if not folders:
        raise FileNotFoundError(f"{root} has no class sub-folders")
    return [(re.sub(r"^\d+[_-]?", "", p.name) or p.name, p) for p in folders]


def list_images(root: Path) -> tuple[list[str], list[Path], np.ndarray]:
    """Labels, image files (sorted within each class) and their class indices."""
    labels, files, targets = [], [], []
    for index, (label, folder) in enumerate(class_folders(root)):
        labels.append(label)
        found = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        files += found
        targets += [index] * len(found)
    return labels, files, np.asarray(targets, dtype=np.int32)


def load_images(files: list[Path], size: tuple[int, int]) -> np.ndarray:
    """Decode and resize exactly as the service does; kept as uint8 (the values are whole numbers) to save RAM."""

    def load(path: Path) -> np.ndarray:
        image = decode_image(path.read_bytes(), max_pixels=MAX_PIXELS, min_side=min(size))
        return to_rgb_input(image, size).astype(np.uint8)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return np.stack(list(pool.map(load, files)))


def folder_checksum(root: Path, files: list[Path]) -> str:
    """sha256 over every file's relative path and content hash: changes when any image changes."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(root)}:{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def _rgb_common(labels: list[str], shape: tuple[int, ...]) -> dict[str, Any]:
    return dict(labels=labels, input_shape=shape, input_range=[0, 255],
                preprocessing={"kind": "rgb", "size": [shape[0], shape[1]], "resize": "squash", "color": "RGB",
                               "range": [0, 255]})


def split_indices(count: int, validation_split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, validation) index split: the same seed and file list always give the same split."""
    order = np.random.default_rng(seed).permutation(count)
    n_val = int(round(count * validation_split))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def image_folder_dataset(*, path: str, image_size: list[int], validation_split: float = 0.2, seed: int = 123,
                         limit: int | None = None, channel_gain: float = 0.0) -> Data:
    """One sub-folder per class; a seeded ``validation_split`` of the images is held out for validation."""
    root = Path(path)
    shape = tuple(image_size)
    labels, files, targets = list_images(root)
    train_idx, val_idx = split_indices(len(files), validation_split, seed)
    if limit:
        train_idx, val_idx = train_idx[:limit], val_idx[: max(1, limit // 4)]
    used = sorted(set(train_idx) | set(val_idx))
    pixels = dict(zip(used, load_images([files[i] for i in used], shape[:2]), strict=True))
    info = {"source": str(root), "files": len(files), "train_count": len(train_idx), "eval_count": len(val_idx),
            "split_seed": seed, "validation_split": validation_split,
            "sha256": folder_checksum(root, files),
            "validation_files_sha256": hashlib.sha256(
                "\n".join(str(files[i].relative_to(root)) for i in val_idx).encode()).hexdigest()}
    return Data(x_train=np.stack([pixels[i] for i in train_idx]), y_train=targets[train_idx],
                x_eval=np.stack([pixels[i] for i in val_idx]), y_eval=targets[val_idx], eval_name="validation",
                info=info, augment=photo_augment(channel_gain), **_rgb_common(labels, shape))


def photo_augment(gain: float) -> Callable[[tf.Tensor], tf.Tensor] | None:
    return (lambda images: gain_jitter(images, gain)) if gain else None


def train_eval_dataset(*, path: str, image_size: list[int], final: bool = False, limit: int | None = None,
                       seed: int = 0, channel_gain: float = 0.0) -> Data:
    """``train/`` and ``eval/`` class folders; ``final`` trains on both (eval figures are then not held out)."""
    root = Path(path)
    shape = tuple(image_size)
    labels, train_files, y_train = list_images(root / "train")
    eval_labels, eval_files, y_eval = list_images(root / "eval")
    if labels != eval_labels:
        raise ValueError(f"train/ and eval/ classes differ: {labels} vs {eval_labels}")
    if limit:
        keep = np.sort(np.random.default_rng(seed).permutation(len(train_files))[:limit])
        train_files, y_train = [train_files[i] for i in keep], y_train[keep]
        keep = np.sort(np.random.default_rng(seed + 1).permutation(len(eval_files))[: max(1, limit // 4)])
        eval_files, y_eval = [eval_files[i] for i in keep], y_eval[keep]
    x_train = load_images(train_files, shape[:2])
    x_eval = load_images(eval_files, shape[:2])
    info = {"source": str(root), "final": final, "train_sha256": folder_checksum(root, train_files),
            "eval_sha256": folder_checksum(root, eval_files), "eval_count": len(eval_files)}
    if final:
        x_train, y_train = np.concatenate([x_train, x_eval]), np.concatenate([y_train, y_eval])
    info["train_count"] = len(x_train)
    return Data(x_train=x_train, y_train=y_train, x_eval=x_eval, y_eval=y_eval, eval_name="eval", info=info,
                augment=photo_augment(channel_gain), **_rgb_common(labels, shape))


DATASETS: dict[str, Callable[..., Data]] = {
    "MnistDataset": mnist_dataset,
    "ImageFolderDataset": image_folder_dataset,
    "TrainEvalFolderDataset": train_eval_dataset,
}
