"""The request bodies every server gets: a small digit PNG, a 1000x800 JPEG flower photo and a phone photo of a
handwritten digit.

Made from ``<repo>/../shared/data`` when it is there (an MNIST test digit; a flower photo upscaled to the
issue's 1000x800; a real-digits phone JPEG of about 3 megapixels, read as it is), else synthesised, so the
benchmark also runs on a machine without the data sets. ``sources()`` says which, for the report.
``BENCH_DATA`` points elsewhere (a git worktree has no ``../shared`` beside it).
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
PHOTO_SIZE = (1000, 800)  # width, height
DIGIT_PHOTO_PIXELS = 3_000_000  # a phone photo as uploaded, often scaled down from 12 MP
SYNTHETIC_DIGIT_PHOTO_SIZE = (2016, 1512)  # width, height: 3 MP, 4:3 like the phones in real-digits
_BOUNDARY = "benchboundary7MA4YWxkTrZu0gW"


def data_dir() -> Path:
    """The shared data sets: ``BENCH_DATA`` if set, else ``<repo>/../shared/data``."""
    return Path(os.environ.get("BENCH_DATA") or REPO.parent / "shared" / "data")


def digit_png() -> bytes:
    """A 28x28 grayscale PNG of an MNIST test digit (the first one, a 7), or a drawn 7."""
    npz = data_dir() / "mnist" / "mnist.npz"
    if npz.is_file():
        with np.load(npz) as data:
            image = data["x_test"][0]
    else:
        image = np.zeros((28, 28), np.uint8)
        cv2.line(image, (7, 7), (21, 7), 255, 2)
        cv2.line(image, (21, 7), (12, 22), 255, 2)
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


def flower_jpeg() -> bytes:
    """A 1000x800 JPEG (quality 90) of a flower photo, or of a smooth synthetic scene."""
    photos = sorted((data_dir() / "flowers" / "daisy").glob("*.jpg"))
    if photos:
        image = cv2.imread(str(photos[0]), cv2.IMREAD_COLOR)
        image = cv2.resize(image, PHOTO_SIZE, interpolation=cv2.INTER_CUBIC)
    else:
        y, x = np.mgrid[0 : PHOTO_SIZE[1], 0 : PHOTO_SIZE[0]]
        image = np.dstack([(x * 255 // PHOTO_SIZE[0]), (y * 255 // PHOTO_SIZE[1]), ((x + y) % 256)]).astype(np.uint8)
        cv2.circle(image, (500, 400), 200, (0, 220, 255), -1)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return encoded.tobytes()


def _pixels(path: Path) -> int:
    """Width x height of a JPEG file (0 when it does not decode)."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION)
    return 0 if image is None else image.shape[0] * image.shape[1]


def choose_digit_photo(data: Path | None = None) -> tuple[Path, str] | None:
    """The real-digits phone photo (``kind == photo``, a JPEG file) whose pixel count is nearest 3 MP on a log scale
    (so with only small photos, the largest), the first in ``labels.csv`` on a tie; with its label.
    None when the data set is absent or holds no JPEG photo."""
    folder = (data or data_dir()) / "real-digits"
    labels = folder / "labels.csv"
    if not labels.is_file():
        return None
    with labels.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("kind") == "photo"]
    best: tuple[float, Path, str] | None = None
    for row in rows:
        path = folder / row["file"]
        if not path.is_file() or path.read_bytes()[:3] != b"\xff\xd8\xff":
            continue
        pixels = _pixels(path)
        if not pixels:
            continue
        distance = abs(math.log(pixels / DIGIT_PHOTO_PIXELS))
        if best is None or distance < best[0]:
            best = (distance, path, row["label"])
    return None if best is None else (best[1], best[2])


def synthetic_digit_photo() -> bytes:
    """A 2016x1512 JPEG (quality 90) shaped like a phone photo of a pen digit: unevenly lit off-white paper, a
    soft shadow, sensor noise and a dark hand-drawn 7 in the middle, not an MNIST-like input."""
    width, height = SYNTHETIC_DIGIT_PHOTO_SIZE
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 205 + 30 * (x / width) - 25 * (y / height)  # light from the top right
    shadow = 45 * np.exp(-(((x - 0.15 * width) / (0.35 * width)) ** 2 + ((y - 0.9 * height) / (0.4 * height)) ** 2))
    gray = light - shadow
    paper = np.dstack([gray - 6, gray, gray + 4])  # BGR: slightly warm paper
    image = np.clip(paper, 0, 255).astype(np.uint8)
    ink = (40, 35, 30)
    stroke = 14
    cx, cy, size = width // 2, height // 2, height // 5
    cv2.line(image, (cx - size // 2, cy - size), (cx + size // 2, cy - size + 12), ink, stroke, cv2.LINE_AA)
    cv2.line(image, (cx + size // 2, cy - size + 12), (cx - size // 8, cy + size), ink, stroke, cv2.LINE_AA)
    image = cv2.GaussianBlur(image, (5, 5), 1.2).astype(np.float32)
    # Sensor noise after the lens blur, so the JPEG carries a phone photo's detail (and decoding cost).
    image += np.random.default_rng(7).normal(0, 4.0, image.shape).astype(np.float32)
    image = np.clip(image, 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return encoded.tobytes()


def digit_photo_jpeg(data: Path | None = None) -> tuple[bytes, str]:
    """The phone photo's bytes, unchanged (EXIF and all), and where they come from; synthesised when absent."""
    data = data or data_dir()
    chosen = choose_digit_photo(data)
    if chosen is None:
        return synthetic_digit_photo(), (f"SYNTHESISED photo-like JPEG of a 7, {SYNTHETIC_DIGIT_PHOTO_SIZE[0]}x"
                                         f"{SYNTHETIC_DIGIT_PHOTO_SIZE[1]} ({data / 'real-digits'} is absent)")
    path, label = chosen
    return path.read_bytes(), f"real-digits/{path.relative_to(data / 'real-digits')} ({_pixels(path) / 1e6:.1f} MP, " \
                              f"label {label})"


def sources(data: Path | None = None) -> dict[str, str]:
    """Where each payload comes from: the data set's file, or SYNTHESISED when the data is absent."""
    data = data or data_dir()
    digit = "MNIST test digit 0 (a 7)" if (data / "mnist" / "mnist.npz").is_file() else "SYNTHESISED drawn 7"
    flower = ("a daisy photo resized to 1000x800" if any((data / "flowers" / "daisy").glob("*.jpg"))
              else "SYNTHESISED smooth scene")
    return {"digit": digit, "flower": flower, "digit-photo": digit_photo_jpeg(data)[1]}


def write_payloads(directory: Path) -> dict[str, Path]:
    """Write digit.png, flower.jpg and digit-photo.jpg into ``directory``; return workload name -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"digit": directory / "digit.png", "flower": directory / "flower.jpg",
             "digit-photo": directory / "digit-photo.jpg"}
    paths["digit"].write_bytes(digit_png())
    paths["flower"].write_bytes(flower_jpeg())
    paths["digit-photo"].write_bytes(digit_photo_jpeg()[0])
    return paths


def multipart(data: bytes, filename: str, mimetype: str, field_name: str = "image") -> tuple[dict[str, str], bytes]:
    """A multipart/form-data body with one file field; returns (headers, body)."""
    head = (f"--{_BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field_name}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {mimetype}\r\n\r\n").encode()
    tail = f"\r\n--{_BOUNDARY}--\r\n".encode()
    return {"Content-Type": f"multipart/form-data; boundary={_BOUNDARY}"}, head + data + tail
