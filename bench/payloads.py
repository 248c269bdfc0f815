"""The two request bodies every server gets: a small digit PNG and a 1000x800 JPEG flower photo.

Made from ``<repo>/../shared/data`` when it is there (an MNIST test digit; a flower photo upscaled to the
issue's 1000x800), else synthesised, so the benchmark also runs on a machine without the data sets.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
PHOTO_SIZE = (1000, 800)  # width, height
_BOUNDARY = "benchboundary7MA4YWxkTrZu0gW"


def digit_png() -> bytes:
    """A 28x28 grayscale PNG of an MNIST test digit (the first one, a 7), or a drawn 7."""
    npz = DATA / "mnist" / "mnist.npz"
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
    photos = sorted((DATA / "flowers" / "daisy").glob("*.jpg"))
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


def write_payloads(directory: Path) -> dict[str, Path]:
    """Write digit.png and flower.jpg into ``directory``; return name -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"digit": directory / "digit.png", "flower": directory / "flower.jpg"}
    paths["digit"].write_bytes(digit_png())
    paths["flower"].write_bytes(flower_jpeg())
    return paths


def multipart(data: bytes, filename: str, mimetype: str, field_name: str = "image") -> tuple[dict[str, str], bytes]:
    """A multipart/form-data body with one file field; returns (headers, body)."""
    head = (f"--{_BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field_name}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {mimetype}\r\n\r\n").encode()
    tail = f"\r\n--{_BOUNDARY}--\r\n".encode()
    return {"Content-Type": f"multipart/form-data; boundary={_BOUNDARY}"}, head + data + tail
