"""A corpus of hostile and broken input against every endpoint of a real gunicorn (2 workers, the shipped models).

Every answer must be a JSON error with a 4xx status (or a 200 for the odd-but-valid images), never a 5xx, never a
closed connection without an answer, and the workers must be the same processes at the end.
"""

from __future__ import annotations

import json
import struct
import zlib

import cv2
import numpy as np
import pytest

from tests.conftest import MODELS_DIR, encode
from tests.gunicorn_server import Gunicorn, raw_request, split_response
from tests.images import png, png_chunk, png_header_only

IMAGE_ENDPOINTS = ("/mnist/classify", "/predict?model=flowers", "/api/v1/predict")
ALL_ENDPOINTS = IMAGE_ENDPOINTS + ("/predict", "/api/v1/models", "/api/v1/models/mnist", "/healthz", "/readyz",
                                   "/no/such/endpoint")


def _digit() -> np.ndarray:
    image = np.full((120, 120), 235, np.uint8)
    cv2.line(image, (30, 25), (90, 25), 30, 8)
    cv2.line(image, (90, 25), (50, 100), 30, 8)
    return image


def _jpeg_header(width: int, height: int, components: int = 3) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 8 + 3 * components, 8, height, width, components)
    return b"\xff\xd8" + sof + b"".join(bytes([i + 1, 0x11, 0]) for i in range(components)) + b"\xff\xd9"


def _zlib_bomb_png() -> bytes:
    """Claims 10 x 10 pixels but its image data inflates to 50 MB."""
    ihdr = struct.pack(">IIBBBBB", 10, 10, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\0" * 50_000_000, 9)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b""))


def image_corpus() -> dict[str, tuple[bytes, bool]]:
    """name -> (file bytes, may it be classified: odd but valid)."""
    digit_png = encode(_digit(), ".png")
    digit_jpg = encode(_digit(), ".jpg")
    progressive = encode(cv2.cvtColor(_digit(), cv2.COLOR_GRAY2BGR), ".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    corrupt_png = bytearray(digit_png)
    corrupt_png[60:90] = b"\xaa" * 30
    bad_crc = bytearray(digit_png)
    bad_crc[29:33] = b"\0\0\0\0"
    return {
        "empty": (b"", False),
        "one byte": (b"\x89", False),
        "truncated png": (digit_png[: len(digit_png) // 2], False),
        "truncated jpeg": (digit_jpg[: len(digit_jpg) // 2], False),
        "truncated progressive jpeg": (progressive[: len(progressive) // 2], False),
        "png signature only": (digit_png[:8], False),
        "png header without data": (png_header_only(100, 100), False),
        "corrupt png data": (bytes(corrupt_png), False),
        "png with bad checksums": (bytes(bad_crc), True),
        "corrupt jpeg": (digit_jpg[:20] + bytes(range(256)) * 8, False),
        "jpeg start and end only": (b"\xff\xd8\xff\xd9", False),
        "jpeg frame header only": (_jpeg_header(640, 480), False),
        "png pixel bomb 50000x50000": (png_header_only(50_000, 50_000), False),
        "png 16-bit rgba 6000x6000": (png_header_only(6000, 6000, bits=16, colour_type=6), False),
        "jpeg pixel bomb 65000x65000": (_jpeg_header(65_000, 65_000), False),
        "png zero size": (png_header_only(0, 0), False),
        "png invalid colour type": (png_header_only(10, 10, bits=8, colour_type=7), False),
        "png invalid bit depth": (png_header_only(10, 10, bits=3, colour_type=0), False),
        "png zlib bomb": (_zlib_bomb_png(), True),  # libpng inflates only the 100 bytes it needs
        "png 1-bit gray": (png(16, 16, 1, 0, b"\xaa\x55"), True),
        "png 2-bit palette": (png(8, 8, 2, 3, b"\x1b\x1b", png_chunk(b"PLTE", bytes(range(12)))), True),
        "png palette without PLTE": (png(8, 8, 8, 3, b"\x00" * 8), False),
        "png 16-bit gray": (png(8, 8, 16, 0, b"\x80\x00" * 8), True),
        "png gray + alpha": (png(8, 8, 8, 4, b"\x00\x80" * 8), True),
        "png palette + tRNS": (png(8, 8, 8, 3, b"\x00" * 8, png_chunk(b"PLTE", b"\0\0\0") + png_chunk(b"tRNS", b"\x40")),
                               True),
        "png 1x1": (encode(np.zeros((1, 1), np.uint8), ".png"), True),
        "png 1x60000": (encode(np.full((1, 60_000), 255, np.uint8), ".png"), True),
        "jpeg cmyk header": (_jpeg_header(64, 64, components=4), False),
        "gif": (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00"
                b"\x02\x02D\x01\x00;", False),
        "bmp": (encode(_digit(), ".bmp"), False),
        "webp": (encode(cv2.cvtColor(_digit(), cv2.COLOR_GRAY2BGR), ".webp"), False),
        "tiff": (encode(_digit(), ".tiff"), False),
        "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><text>7</text></svg>', False),
        "text": (b"just some text, not an image\n", False),
        "random bytes": (np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(), False),
    }


def multipart(payload: bytes, *, name: str = "image", filename: str = "digit.png", boundary: str = "B0undary",
              content_type: str = "image/png") -> tuple[str, bytes]:
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode("utf-8", "surrogateescape")
    return f"multipart/form-data; boundary={boundary}", head + payload + f"\r\n--{boundary}--\r\n".encode()


def http(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
         length: bool = True) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: test"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def may_succeed(name: str) -> bool:
    """Odd but acceptable, answered 200 as a tolerant server should: a valid digit with a strange file name (never
    used as a path), /predict ignoring the extension, an unknown Content-Type parameter, OPTIONS."""
    return ("filename" in name or name.startswith(("OPTIONS", "multipart on /predict: wrong extension",
                                                    "multipart on /predict: no extension"))
            or name == "content-type 'image/png; charset=\xff'")


def request_corpus() -> dict[str, bytes]:
    """name -> raw request bytes: malformed HTTP, wrong types and methods, multipart and chunking gone wrong."""
    digit = encode(_digit(), ".png")
    form_type, form = multipart(digit)
    corpus: dict[str, bytes] = {}
    for content_type in ("text/plain", "application/json", "image/gif", "application/x-www-form-urlencoded",
                         "multipart/form-data", "multipart/mixed; boundary=B0undary", "image/png; charset=\xff",
                         "", "*/*", "image/"):
        corpus[f"content-type {content_type!r}"] = http("POST", "/predict", digit,
                                                        {"Content-Type": content_type} if content_type else {})
    corpus["mnist: raw body instead of a form"] = http("POST", "/mnist/classify", digit, {"Content-Type": "image/png"})
    for label, (ctype, body) in {
        "no closing boundary": (form_type, form[: -len("--B0undary--\r\n")]),
        "boundary mismatch": ("multipart/form-data; boundary=Other", form),
        "field not named image": multipart(digit, name="file"),
        "empty filename": multipart(digit, filename=""),
        "path traversal filename": multipart(digit, filename="../../../etc/passwd.png"),
        "filename with CRLF and NUL": multipart(digit, filename="a\r\nb\0c.png"),
        "non-UTF-8 filename": multipart(digit, filename="\udcff\udcfe.png"),
        "10 KB filename": multipart(digit, filename="a" * 10_000 + ".png"),
        "wrong extension": multipart(digit, filename="digit.exe"),
        "no extension": multipart(digit, filename="digit"),
        "no content-disposition": (form_type, form.replace(b"Content-Disposition", b"X-Nothing")),
        "1100 parts": ("multipart/form-data; boundary=x", b"".join(
            b"--x\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv\r\n" % i for i in range(1100)) + b"--x--\r\n"),
        "rfc 2231 boundary, not ascii": ("multipart/form-data; boundary*=UTF-8''%E2%82%AC", form),
        "boundary of 200 characters": multipart(digit, boundary="b" * 200),
        "empty form": (form_type, b"--B0undary--\r\n"),
    }.items():
        corpus[f"multipart: {label}"] = http("POST", "/mnist/classify", body, {"Content-Type": ctype})
        corpus[f"multipart on /predict: {label}"] = http("POST", "/predict", body, {"Content-Type": ctype})
    chunked = {"Content-Type": "image/png", "Transfer-Encoding": "chunked"}
    corpus["chunked: invalid size"] = http("POST", "/predict", b"zz\r\nabc\r\n0\r\n\r\n", chunked, length=False)
    corpus["chunked: missing chunk terminator"] = http("POST", "/predict", b"3\r\nabcXX0\r\n\r\n", chunked, False)
    corpus["chunked: huge size"] = http("POST", "/predict", b"ffffffffffffffff\r\nabc\r\n0\r\n\r\n", chunked, False)
    corpus["chunked: bad extension"] = http("POST", "/predict", b"3;\0\r\nabc\r\n0\r\n\r\n", chunked, False)
    corpus["chunked and content-length"] = http("POST", "/predict", b"3\r\nabc\r\n0\r\n\r\n", chunked)
    corpus["chunked: over 10 MiB"] = http("POST", "/predict", b"".join(
        b"100000\r\n" + b"\0" * 0x100000 + b"\r\n" for _ in range(11)) + b"0\r\n\r\n", chunked, False)
    corpus["transfer-encoding gzip"] = http("POST", "/predict", digit, {"Transfer-Encoding": "gzip"}, False)
    corpus["content-length larger than body"] = (
        b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n" + digit[:100])
    corpus["content-length negative"] = b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n"
    corpus["content-length not a number"] = b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: 1e3\r\n\r\n"
    corpus["two content-lengths"] = (b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4"
                                     b"\r\n\r\nabcd")
    corpus["body over 10 MiB"] = http("POST", "/predict", b"\xff\xd8\xff" + b"\0" * (10 * 1024 * 1024),
                                      {"Content-Type": "image/jpeg"})
    corpus["bad request line"] = b"GARBAGE\r\n\r\n"
    corpus["bad http version"] = b"GET /healthz HTTP/9.9\r\nHost: t\r\n\r\n"
    corpus["header without colon"] = b"GET /healthz HTTP/1.1\r\nHost: t\r\nNoColonHere\r\n\r\n"
    corpus["NUL in a header"] = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\n\r\n"
    corpus["obsolete header folding"] = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n"
    corpus["URI of 9000 bytes"] = b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n"
    corpus["header of 9000 bytes"] = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
    corpus["150 headers"] = (b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(150))
                             + b"\r\n")
    corpus["unknown model"] = http("POST", "/predict?model=nope", digit, {"Content-Type": "image/png"})
    corpus["model name of 3000 characters"] = http("POST", "/predict?model=" + "m" * 3000, digit,
                                                   {"Content-Type": "image/png"})
    corpus["model name path traversal"] = http("POST", "/predict?model=../../etc", digit,
                                               {"Content-Type": "image/png"})
    corpus["unknown model details"] = http("GET", "/api/v1/models/..%2F..%2Fetc")
    corpus["percent-encoding garbage"] = http("GET", "/api/v1/models/%ff%fe%00")
    for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO"):
        for path in IMAGE_ENDPOINTS:
            corpus[f"{method} {path}"] = http(method, path, form if method in ("PUT", "PATCH") else b"",
                                              {"Content-Type": form_type})
    for method in ("POST", "PUT", "DELETE"):
        for path in ("/api/v1/models", "/healthz", "/readyz"):
            corpus[f"{method} {path}"] = http(method, path, b"{}", {"Content-Type": "application/json"})
    return corpus


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Gunicorn(tmp_path_factory.mktemp("corpus") / "server.log", workers=2,
                   CLASSIFIER_MODELS_DIR=str(MODELS_DIR), CLASSIFIER_MODELS="mnist,flowers")
    srv.wait_ready()
    srv.pids = srv.wait_workers(2)
    yield srv
    srv.stop()


def check_answer(name: str, raw: bytes, classifiable: bool, failures: list[str]) -> int | None:
    try:
        return _check_answer(raw, classifiable)
    except (AssertionError, ValueError, IndexError) as exc:
        failures.append(f"{name}: {exc}"[:400])
        return None


def _check_answer(raw: bytes, classifiable: bool) -> int:
    assert raw, "the connection closed without an answer"
    status, headers, body = split_response(raw)
    assert status < 500, (status, body[:300])
    if status == 200 and classifiable:
        return status
    assert 400 <= status < 500, (status, body[:300])
    if headers.get("content-length") == "0" or not body:  # HEAD-like answers carry no body
        return status
    assert headers.get("content-type", "").startswith("application/json"), (status, headers, body[:200])
    answer = json.loads(body)
    assert answer["status"] == status and isinstance(answer["error"], str) and answer["error"] and answer["code"]
    return status


@pytest.mark.slow
@pytest.mark.parametrize("endpoint", IMAGE_ENDPOINTS)
def test_every_broken_image_is_a_json_4xx(server, endpoint):
    seen, failures = {}, []
    for name, (data, classifiable) in image_corpus().items():
        if endpoint == "/mnist/classify":
            form_type, body = multipart(data)
            request = http("POST", endpoint, body, {"Content-Type": form_type})
        else:
            request = http("POST", endpoint, data, {"Content-Type": "application/octet-stream"})
        seen[name] = check_answer(name, raw_request(server.port, request, timeout=60), classifiable, failures)
    print(endpoint, seen)
    assert not failures, "\n".join(failures)
    assert server.worker_pids() == server.pids


@pytest.mark.slow
def test_every_malformed_request_is_a_json_4xx(server):
    corpus = request_corpus()
    statuses, failures = {}, []
    for name, request in corpus.items():
        statuses[name] = check_answer(name, raw_request(server.port, request, timeout=60), may_succeed(name),
                                      failures)
    print(statuses)
    assert not failures, "\n".join(failures)
    assert server.worker_pids() == server.pids
    assert "Traceback" not in server.log_path.read_text()


def test_the_corpus_is_large_enough():
    assert len(image_corpus()) + len(request_corpus()) >= 40
