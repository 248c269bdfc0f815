"""Score a digit model on ``test-data/``: accuracy per set and per kind, every miss, preprocessing time.

Why a script next to the tests: the tests only say pass/fail at a threshold; this prints the figures that go
into a report and the misses that tell what to fix next.

Usage (from the repository root)::

    .venv/bin/python test-data/score.py                      # the shipped models/mnist
    .venv/bin/python test-data/score.py --models /tmp/models # any folder of <name>/<version>/ models
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing the package

from service.inference import ModelRegistry  # noqa: E402
from service.preprocessing import decode_image, to_mnist  # noqa: E402

CLASSIFIED_KINDS = ("photo-mnist", "photo-font", "mnist28", "alpha", "png16", "exif")
MAX_PIXELS = 40_000_000


def score(model, folder: Path, labels: Path) -> tuple[int, int]:
    """Print per-kind accuracy and misses for one labels file; return (right, total)."""
    with labels.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["kind"] in CLASSIFIED_KINDS]
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses = []
    for row in rows:
        prediction = model.classify_bytes((folder / row["file"]).read_bytes(), MAX_PIXELS)
        right = prediction.label == row["label"]
        per_kind[row["kind"]][0] += right
        per_kind[row["kind"]][1] += 1
        if not right:
            misses.append(f"  {row['file']}: {row['label']} -> {prediction.label} p={prediction.probability:.2f}"
                          f"  [{row['notes']}]")
    total_right = sum(v[0] for v in per_kind.values())
    print(f"{labels.relative_to(HERE.parent)}: {total_right}/{len(rows)} = {total_right / len(rows):.1%}")
    for kind, (right, total) in sorted(per_kind.items()):
        print(f"  {kind:12s} {right}/{total}")
    print("\n".join(misses) if misses else "  no misses")
    return total_right, len(rows)


def preprocessing_ms(folder: Path, labels: Path, repeats: int) -> None:
    """Median to_mnist time on the largest photos, from full-resolution and from service-style decodes."""
    from service.preprocessing.digits import WORK_SIDE

    with labels.open(newline="") as handle:
        photos = [r for r in csv.DictReader(handle) if r["kind"].startswith("photo-")]
    decoded = [(r["file"], (folder / r["file"]).read_bytes()) for r in photos]
    largest = sorted(decoded, key=lambda item: max(decode_image(item[1], grayscale=True).shape))[-3:]
    for name, data in largest:
        full = decode_image(data, grayscale=True)
        runs = {"full": ([], []), "service": ([], [])}
        for _ in range(repeats):
            for key, job in (("full", lambda: to_mnist(full)),
                             ("service", lambda: to_mnist(decode_image(data, grayscale=True, min_side=WORK_SIDE)))):
                wall, cpu = time.perf_counter(), time.process_time()
                job()
                runs[key][0].append(time.perf_counter() - wall)
                runs[key][1].append(time.process_time() - cpu)
        text = {key: f"{1000 * statistics.median(w):.1f} ms wall / {1000 * statistics.median(c):.1f} ms CPU"
                for key, (w, c) in runs.items()}
        print(f"{name} {full.shape[1]}x{full.shape[0]}: to_mnist(full-resolution image) {text['full']}; "
              f"reduced JPEG decode + to_mnist (the service's path) {text['service']}  (medians of {repeats}; "
              f"CPU time counts every thread and excludes waiting for a busy machine)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, default=HERE.parent / "models", help="folder of model folders")
    parser.add_argument("--repeats", type=int, default=20, help="timing repeats per image (0: no timing)")
    args = parser.parse_args(argv)
    model = ModelRegistry.from_directory(args.models, ("mnist",)).get("mnist")
    print(f"model: {model.manifest.directory} ({model.runtime_name})")
    score(model, HERE, HERE / "labels.csv")
    score(model, HERE / "unseen", HERE / "unseen" / "labels.csv")
    if args.repeats:
        preprocessing_ms(HERE, HERE / "labels.csv", args.repeats)


if __name__ == "__main__":
    main()
