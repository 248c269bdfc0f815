"""Reading the image out of a multipart body: byte-exact whatever its size, whatever its boundary."""

from __future__ import annotations

import logging
import random

import pytest
from flask import Flask, request

from service.api.uploads import multipart_image, request_images

STEP = 16 * 1024


def form(boundary: bytes, *parts: bytes) -> bytes:
    body = b""
    for payload in parts:
        body += (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n"
                 b"Content-Type: image/jpeg\r\n\r\n" + payload + b"\r\n")
    return body + b"--" + boundary + b"--\r\n"


def tricky_payload(size: int, boundary: bytes) -> bytes:
    """Random bytes with line breaks and near-boundaries (the boundary without its last byte) every ``STEP``
    bytes: where a parser that searches for the boundary is most likely to cut or drop bytes."""
    rng = random.Random(0)
    data = bytearray(rng.randbytes(size))
    near = b"\r\n--" + boundary[:-1]
    for edge in range(STEP, size - 100, STEP):
        for shift in (-len(near), -3, -1, 0, 1):
            start = edge + shift
            data[start : start + len(near) + 1] = near + b"\x00"  # never completed into the boundary itself
        data[edge - 1 : edge + 1] = b"\r\n"
    return bytes(data)


@pytest.fixture()
def bare_app() -> Flask:
    return Flask(__name__)


@pytest.mark.parametrize("size", [10, STEP - 1, STEP, 5 * STEP + 7, 1_200_000])
def test_the_image_arrives_byte_exact(bare_app, size):
    boundary = b"----ClassifierTestBoundary7MA4YWxkTrZu0gW"
    payload = tricky_payload(size, boundary)
    body = form(boundary, payload)
    with bare_app.test_request_context("/", method="POST", data=body,
                                  content_type="multipart/form-data; boundary=" + boundary.decode()):
        assert multipart_image(request) == payload


def test_several_images_arrive_in_order(bare_app):
    boundary = b"b0undary"
    payloads = [tricky_payload(n, boundary) for n in (3 * STEP + 5, 100, STEP)]
    with bare_app.test_request_context("/", method="POST", data=form(boundary, *payloads),
                                  content_type="multipart/form-data; boundary=b0undary"):
        assert request_images(request) == payloads


def test_a_boundary_longer_than_the_rfc_allows_is_still_read(bare_app):
    # werkzeug's test client makes boundaries of 71-72 characters now and then.
    boundary = b"---------------WerkzeugFormPart_1796190000.1234567" + b"0.123456789012345678901"
    assert len(boundary) > 70
    with bare_app.test_request_context("/", method="POST", data=form(boundary, b"\x89PNG data"),
                                  content_type="multipart/form-data; boundary=" + boundary.decode()):
        assert multipart_image(request) == b"\x89PNG data"


def test_a_malformed_upload_is_answered_and_logged_once(client, caplog):
    body = b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\x01garbage\r\n\r\nx\r\n--b--\r\n"
    with caplog.at_level(logging.DEBUG):
        answer = client.post("/mnist/classify", data=body, content_type="multipart/form-data; boundary=b")
    assert answer.status_code == 404 and answer.get_json()["error"]
    lines = [r for r in caplog.records if r.levelno >= logging.INFO and r.name != "werkzeug"]
    assert len(lines) == 1, [(r.name, r.getMessage()) for r in lines]
