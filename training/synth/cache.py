"""Render synthetic digits and negatives once, pass them through the service's preprocessing, and store the
28x28 results for training: ``python -m training.synth.cache``.

    python -m training.synth.cache --out runs/synth.npz --digits 60000 --negatives 30000 --seed 0 --workers 2 \\
        [--mnist ../shared/data/mnist/mnist.npz] [--photos-root ../shared/data] [--split train|holdout] \\
        [--save-examples DIR N]

Index split of MNIST's 60,000 training digits: ``train`` renders from indices 0-54,999 and ``holdout`` from
55,000-59,999, so a held-in set (for thresholds and calibration) never shares a source digit with the training
renders. Each split's indices are shuffled with the seed and cycled when more digits are asked for than it has.

Every item has its own random stream, ``default_rng([seed, split, group, i])``: the output does not depend on the
number of workers. The file holds ``x`` (N, 28, 28) uint8 (what ``service.preprocessing.to_mnist`` returns, times
255, rounded), ``y`` int16 (the digit, or -1 for a negative), ``kind`` (the renderer's kind, e.g. ``photo-ruled``,
``glyphs``), ``source`` int32 (the MNIST training index, -1 for negatives), and the run's ``seed`` and ``split``.
Digits come first, then negatives.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from training.synth.digits import render_digit_kind
from training.synth.negatives import render_negative_kind

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"  # ../shared/data beside the repo
SPLITS = {"train": (0, 55000), "holdout": (55000, 60000)}
DIGIT, NEGATIVE = 0, 1
Task = tuple[int, int, int, int, int]  # (seed, split number, group, item, MNIST source index or -1)

_x_train = np.zeros((0, 28, 28), np.uint8)
_y_train = np.zeros(0, np.uint8)
_photos: list[Path] = []


def photo_paths(root: Path) -> list[Path]:
    """The flower and mug photos under ``root`` (sorted, so a seed always picks the same ones)."""
    return sorted([*root.glob("flowers/*/*.jpg"), *root.glob("mugs/train/*/*.jpg")])


def source_indices(split: str, count: int, seed: int) -> np.ndarray:
    """``count`` MNIST training indices from ``split``, shuffled with ``seed`` and cycled."""
    lo, hi = SPLITS[split]
    order = np.random.default_rng([seed, 7]).permutation(np.arange(lo, hi))
    return order[np.arange(count) % order.size]


def tasks(seed: int, split: str, digits: int, negatives: int) -> list[Task]:
    """Digits first, then negatives."""
    number = list(SPLITS).index(split)
    sources = source_indices(split, digits, seed)
    return ([(seed, number, DIGIT, i, int(s)) for i, s in enumerate(sources)]
            + [(seed, number, NEGATIVE, i, -1) for i in range(negatives)])


def load(mnist: Path, photos: Sequence[Path]) -> None:
    """Loads the worker's inputs (once per process)."""
    global _x_train, _y_train, _photos
    cv2.setNumThreads(1)  # one worker per core: OpenCV's own threads would only compete with the others
    with np.load(mnist) as data:
        _x_train, _y_train = data["x_train"], data["y_train"]
    _photos = list(photos)


def render(task: Task) -> tuple[np.ndarray, int, str, int]:
    """One task -> (raw image as a decoder would give it, label, kind, source)."""
    seed, split, group, i, source = task
    rng = np.random.default_rng([seed, split, group, i])
    if group == DIGIT:
        image, kind = render_digit_kind(_x_train[source], rng)
        return image, int(_y_train[source]), kind, source
    image, kind = render_negative_kind(rng, _photos)
    return image, -1, kind, -1


def preprocessed(task: Task) -> tuple[np.ndarray, int, str, int]:
    """One task -> (28x28 uint8 after the service's preprocessing, label, kind, source)."""
    from service.preprocessing import to_mnist  # the current preprocessing, whatever it is when this runs

    image, label, kind, source = render(task)
    x = np.clip(np.rint(to_mnist(image) * 255), 0, 255).astype(np.uint8)
    return x, label, kind, source


def build(todo: list[Task], workers: int, mnist: Path, photos: Sequence[Path]) -> dict[str, np.ndarray]:
    """Runs the tasks on a pool (or in this process for ``workers`` <= 1) with a progress bar on stderr."""
    x = np.zeros((len(todo), 28, 28), np.uint8)
    y = np.zeros(len(todo), np.int16)
    kind = np.empty(len(todo), "<U16")
    source = np.zeros(len(todo), np.int32)
    bar = tqdm(total=len(todo), file=sys.stderr, unit="img", desc="synth")
    if workers <= 1:
        load(mnist, photos)
        results = map(preprocessed, todo)
        _fill(results, x, y, kind, source, bar)
    else:
        with Pool(workers, initializer=load, initargs=(mnist, list(photos))) as pool:
            _fill(pool.imap(preprocessed, todo, chunksize=32), x, y, kind, source, bar)
    bar.close()
    return {"x": x, "y": y, "kind": kind, "source": source}


def _fill(results, x: np.ndarray, y: np.ndarray, kind: np.ndarray, source: np.ndarray, bar: tqdm) -> None:
    for i, (xi, yi, ki, si) in enumerate(results):
        x[i], y[i], kind[i], source[i] = xi, yi, ki, si
        bar.update()


def save_examples(folder: Path, count: int, todo: list[Task], mnist: Path, photos: Sequence[Path]) -> None:
    """Writes the raw renders of ``count`` tasks (digits and negatives in their proportion) for looking at:
    ``<digit|neg>-<item>-<kind>-<label>.png`` (a JPEG-compressed render stays a faithful PNG of its pixels)."""
    folder.mkdir(parents=True, exist_ok=True)
    load(mnist, photos)
    digit_tasks = [t for t in todo if t[2] == DIGIT]
    negative_tasks = [t for t in todo if t[2] == NEGATIVE]
    n_digits = min(len(digit_tasks), round(count * len(digit_tasks) / max(len(todo), 1)))
    chosen = digit_tasks[:n_digits] + negative_tasks[:count - n_digits]
    for task in chosen:
        image, label, kind, _ = render(task)
        group = "digit" if task[2] == DIGIT else "neg"
        cv2.imwrite(str(folder / f"{group}-{task[3]:05d}-{kind}-{label}.png"), image)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.synth.cache", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="output .npz")
    p.add_argument("--digits", type=int, default=60000, help="rendered digits (default 60000)")
    p.add_argument("--negatives", type=int, default=30000, help="rendered non-digits (default 30000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2, help="processes (default 2; 1 renders in this process)")
    p.add_argument("--split", choices=list(SPLITS), default="train", help="MNIST training indices to render from")
    p.add_argument("--photos-root", type=Path, default=SHARED_DATA,
                   help="folder holding flowers/ and mugs/train/ (default ../shared/data beside the repository)")
    p.add_argument("--mnist", type=Path, help="mnist.npz (default <photos-root>/mnist/mnist.npz)")
    p.add_argument("--save-examples", nargs=2, metavar=("DIR", "N"), help="also write N raw renders into DIR")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    mnist = args.mnist or args.photos_root / "mnist" / "mnist.npz"
    if not mnist.is_file():
        print(f"error: {mnist} not found (pass --mnist or --photos-root)", file=sys.stderr)
        return 2
    if args.digits < 0 or args.negatives < 0 or args.digits + args.negatives == 0:
        print("error: --digits and --negatives must be >= 0 and not both 0", file=sys.stderr)
        return 2
    photos = photo_paths(args.photos_root)
    if args.negatives and not photos:
        print(f"warning: no photos under {args.photos_root}; photo negatives become textures", file=sys.stderr)
    todo = tasks(args.seed, args.split, args.digits, args.negatives)
    if args.save_examples:
        folder, count = args.save_examples
        save_examples(Path(folder), int(count), todo, mnist, photos)
    arrays = build(todo, args.workers, mnist, photos)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays, seed=np.int64(args.seed), split=np.str_(args.split))
    counts = {k: int(n) for k, n in zip(*np.unique(arrays["kind"], return_counts=True))}
    print(f"wrote {args.out}: {len(todo)} images {counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
