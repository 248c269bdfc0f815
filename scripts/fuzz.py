"""Coverage-guided fuzzing (atheris, libFuzzer) of what strangers' bytes reach: decoding, preprocessing, the
request body parsing of the API, and the gunicorn worker's request framing.

    python scripts/fuzz.py -runs=1000000 -max_len=16384 -timeout=1 [CORPUS_DIR ...]

The first input byte picks the target; the rest is the input. A target may only refuse input with the service's
own errors (``ServiceError``) or werkzeug's HTTP errors, which become JSON 4xx answers; anything else is a crash,
and libFuzzer's ``-timeout=1`` makes any input that takes more than 1 s one too. Seeds: small images of
every kind and a few hand-made requests (``--seeds DIR`` writes them to DIR to start a corpus).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import atheris
import cv2
import numpy as np

# Only this project's code and werkzeug's header parsing are instrumented for coverage: instrumenting NumPy and
# the rest slows every run for edges that do not depend on the input. python-multipart (the upload parser) runs
# uninstrumented: its byte-by-byte state machine made the fuzzer's memory grow past its limit in a few thousand runs.
with atheris.instrument_imports(include=["service", "werkzeug.http"]):
    from werkzeug.exceptions import HTTPException
    from werkzeug.wrappers import Request

    from service.api.uploads import multipart_image, request_image
    from service.errors import ServiceError
    from service.http_worker import _chunked_end
    from service.preprocessing import decode_image, to_mnist, to_rgb_input

REPO = Path(__file__).resolve().parent.parent
CONTENT_TYPES = [b"image/png", b"application/octet-stream", b"multipart/form-data; boundary=b",
                 b"multipart/form-data; boundary*=UTF-8''b", b"multipart/form-data; boundary=", b"text/plain"]


def decode_target(data: bytes, grayscale: bool) -> None:
    image = decode_image(data, max_pixels=4_000_000, grayscale=grayscale, min_side=64 if grayscale else 180,
                         max_decoded_bytes=8 * 1024 * 1024)
    if grayscale:
        assert to_mnist(image).shape == (28, 28)
    else:
        assert to_rgb_input(image, (180, 180)).shape == (180, 180, 3)


def request_target(data: bytes) -> None:
    """The API's body parsing: the first byte picks a Content-Type, the rest is the body."""
    content_type = CONTENT_TYPES[data[0] % len(CONTENT_TYPES)] if data else b""
    body = data[1:]
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/predict", "SERVER_NAME": "fuzz", "SERVER_PORT": "80",
               "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
               "CONTENT_TYPE": content_type.decode("latin-1"), "wsgi.url_scheme": "http"}
    request = Request(environ)
    request.max_content_length = 1024 * 1024
    request.max_form_parts = 100
    if data and data[0] & 0x80:
        multipart_image(request, check_extension=True)
    else:
        request_image(request)


def framing_target(data: bytes) -> None:
    """The worker's test for a complete chunked body: an offset within the input, -1 or None."""
    end = _chunked_end(bytearray(data), 0)
    assert end is None or end == -1 or 0 < end <= len(data)


def test_one_input(raw: bytes) -> None:
    if not raw:
        return
    target, data = raw[0] % 4, raw[1:]
    try:
        if target == 0:
            decode_target(data, grayscale=True)
        elif target == 1:
            decode_target(data, grayscale=False)
        elif target == 2:
            request_target(data)
        else:
            framing_target(data)
    except (ServiceError, HTTPException):
        pass


def seed_images() -> dict[str, bytes]:
    """Small images of every kind the decoder handles (small, so that a run does many of them per second):
    a drawn digit as gray, BGR and BGRA PNG, 16-bit PNG, baseline and progressive JPEG, and a photo from
    test-data/ shrunk to 96 pixels."""
    digit = np.full((64, 64), 230, np.uint8)
    cv2.line(digit, (16, 12), (48, 12), 20, 5)
    cv2.line(digit, (48, 12), (26, 54), 20, 5)
    colour = cv2.cvtColor(digit, cv2.COLOR_GRAY2BGR)
    bgra = cv2.cvtColor(digit, cv2.COLOR_GRAY2BGRA)
    bgra[..., 3] = 255 - digit
    images = {
        "gray.png": cv2.imencode(".png", digit)[1],
        "colour.png": cv2.imencode(".png", colour)[1],
        "bgra.png": cv2.imencode(".png", bgra)[1],
        "gray16.png": cv2.imencode(".png", digit.astype(np.uint16) * 257)[1],
        "colour.jpg": cv2.imencode(".jpg", colour)[1],
        "progressive.jpg": cv2.imencode(".jpg", colour, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1],
    }
    photos = sorted(p for p in (REPO / "test-data").rglob("*.jpg"))
    if photos:
        photo = cv2.imread(str(photos[0]))
        if photo is not None:
            images["photo.jpg"] = cv2.imencode(".jpg", cv2.resize(photo, (96, 96)))[1]
    return {name: data.tobytes() for name, data in images.items()}


def write_seeds(folder: Path) -> None:
    """Seed inputs: each small image for both decode targets, and requests for the parsing targets."""
    folder.mkdir(parents=True, exist_ok=True)
    images = seed_images()
    for name, data in images.items():
        (folder / f"decode-gray-{name}").write_bytes(b"\x00" + data)
        (folder / f"decode-colour-{name}").write_bytes(b"\x01" + data)
    form = (b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n"
            + images["gray.png"] + b"\r\n--b--\r\n")
    (folder / "request-multipart").write_bytes(b"\x02\x82" + form)
    (folder / "request-raw").write_bytes(b"\x02\x00" + images["colour.jpg"])
    (folder / "framing").write_bytes(b"\x03" + b"5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nTrailer: 1\r\n\r\n")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--seeds":
        write_seeds(Path(sys.argv[2]))
        return
    # Each target once before the clock runs: first calls import modules lazily (NumPy's percentile imports
    # numpy.ma), which must not count as a slow input.
    for name, data in seed_images().items():
        test_one_input(b"\x00" + data)
        test_one_input(b"\x01" + data)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
