"""Decode + preprocessing of a phone photo of a digit, through the service's own path: median CPU ms on one core.

Why: a real upload is a 3 or 12 megapixel JPEG, not a 28x28 PNG, and its decode and ``to_mnist`` cost milliseconds
where the network costs a tenth of one. This measures exactly what a ``/mnist/classify`` worker runs before the
network (``Model.decode``: the reduced-resolution JPEG decode; ``Model.preprocess``: ``to_mnist``), pinned to one
core, CPU time (so a busy shared machine inflates the wall time, not the figure).

The 3 MP photo is the benchmark's ``digit-photo`` payload (a real-digits phone JPEG, unchanged, EXIF and all; a
synthesised one when the data is absent). The 12 MP one is that photo, upright, upscaled 2x per side and saved as a
quality-92 JPEG in memory: smoother than a real 12 MP photo of the same scene, so its entropy decode (the part that
grows with the file) is, if anything, cheaper; its size in bytes is printed for that reason.

    PYTHONPATH=. .venv/bin/python -m bench.photo_cost [--models-dir models] [--repeats 31]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from bench.payloads import digit_photo_jpeg

REPO = Path(__file__).resolve().parent.parent
# The most each may cost (median, one core) for the digit path to stay cheap next to the request around it.
PHOTO_LIMIT_MS = 10.0  # the about 3 MP photo
LARGE_LIMIT_MS = 15.0  # the 12 MP one


def upscale_jpeg(data: bytes, factor: int = 2, quality: int = 92) -> bytes:
    """The photo upright (EXIF applied), ``factor`` times larger per side, as a new JPEG."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("the photo does not decode")
    big = cv2.resize(image, (image.shape[1] * factor, image.shape[0] * factor), interpolation=cv2.INTER_CUBIC)
    ok, encoded = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("could not encode the upscaled photo")
    return encoded.tobytes()


def pin_to_one_core() -> int:
    """Run this process (and OpenCV's pool) on one CPU; returns which."""
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    cv2.setNumThreads(1)
    return cpu


def median_ms(call: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(CPU, wall) milliseconds per call, medians of ``repeats`` after two unrecorded calls."""
    call()
    call()
    cpu, wall = [], []
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        call()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return 1000 * statistics.median(cpu), 1000 * statistics.median(wall)


def measure(model, data: bytes, repeats: int, max_pixels: int) -> dict[str, float]:
    """Median CPU ms of the decode, of the preprocessing and of both (``Model.prepare``), and the wall ms of both."""
    decoded = model.decode(data, max_pixels)
    decode_cpu, _ = median_ms(lambda: model.decode(data, max_pixels), repeats)
    preprocess_cpu, _ = median_ms(lambda: model.preprocess(decoded), repeats)
    both_cpu, both_wall = median_ms(lambda: model.prepare(data, max_pixels), repeats)
    return {"decode": decode_cpu, "preprocess": preprocess_cpu, "both": both_cpu, "wall": both_wall,
            "decoded_side": float(max(decoded.shape[:2]))}


def describe(data: bytes, source: str, figures: dict[str, float], repeats: int, limit: float) -> str:
    """One line per photo; it names the limit and whether the median is within it."""
    height, width = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE).shape
    verdict = "within" if figures["both"] <= limit else "OVER"
    return (f"{width * height / 1e6:.1f} MP phone JPEG {width}x{height}, {len(data):,} bytes ({source}): decode "
            f"{figures['decode']:.1f} + "
            f"to_mnist {figures['preprocess']:.1f} = {figures['both']:.1f} ms CPU (Model.prepare; wall "
            f"{figures['wall']:.1f} ms; decoded at {figures['decoded_side']:.0f} px), median of {repeats} on one core;"
            f" limit {limit:g} ms: {verdict}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=REPO / "models", help="folder holding mnist/")
    parser.add_argument("--repeats", type=int, default=31, help="timed calls per figure")
    args = parser.parse_args(argv)
    cpu = pin_to_one_core()
    from service.config import Settings
    from service.inference import ModelRegistry

    max_pixels = Settings().max_pixels
    model = ModelRegistry.from_directory(args.models_dir, ("mnist",)).get("mnist")
    photo, source = digit_photo_jpeg()
    big = upscale_jpeg(photo)
    print(f"model: {model.manifest.directory}; pinned to CPU {cpu}, OpenCV threads {cv2.getNumThreads()}")
    for data, where, limit in ((photo, source, PHOTO_LIMIT_MS),
                               (big, "that photo upscaled 2x per side", LARGE_LIMIT_MS)):
        print(describe(data, where, measure(model, data, args.repeats, max_pixels), args.repeats, limit), flush=True)


if __name__ == "__main__":
    main()
