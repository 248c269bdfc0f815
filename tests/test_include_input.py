"""``?include=input`` on /mnist/classify and /predict: the network's input as a PNG, for people to look at."""

from __future__ import annotations

import base64
import io

import cv2
import numpy as np
import pytest

from service.api.responses import include_options, input_image_data_url
from service.errors import BadRequest


def decode_data_url(url: str) -> np.ndarray:
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    image = cv2.imdecode(np.frombuffer(base64.b64decode(url[len(prefix):]), np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None
    return image


def test_include_input_shows_the_28x28_digit(client, digit_png):
    response = client.post("/mnist/classify?include=input", data={"image": (io.BytesIO(digit_png), "seven.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    body = response.get_json()
    assert body["classification"] == "7"
    image = decode_data_url(body["input"])
    assert image.shape == (28, 28) and image.dtype == np.uint8
    assert image.max() > 200 and image[0].max() == 0  # white ink on black, a clear border as MNIST


def test_without_include_there_is_no_input(client, digit_png):
    response = client.post("/mnist/classify", data={"image": (io.BytesIO(digit_png), "seven.png")},
                           content_type="multipart/form-data")
    assert "input" not in response.get_json()


def test_predict_include_input_for_a_photo_model(client, photo_jpeg):
    response = client.post("/predict?model=flowers&include=input", data=photo_jpeg,
                           headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200
    assert decode_data_url(response.get_json()["input"]).shape == (180, 180, 3)


@pytest.mark.parametrize("path", ["/mnist/classify?include=everything", "/predict?include=input,logits"])
def test_unknown_include_option_is_400(client, digit_png, path):
    response = client.post(path, data={"image": (io.BytesIO(digit_png), "seven.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert "include" in response.get_json()["error"]


def test_include_options_parsing():
    assert include_options(None) == frozenset()
    assert include_options("") == frozenset()
    assert include_options(" input ,") == {"input"}
    with pytest.raises(BadRequest):
        include_options("input,bogus")


def test_input_image_keeps_range_and_colour_order():
    gray = np.array([[0.0, 0.5], [1.0, 2.0]], np.float32).reshape(2, 2, 1)
    assert decode_data_url(input_image_data_url(gray, (0.0, 1.0))).tolist() == [[0, 128], [255, 255]]
    red = np.zeros((2, 2, 3), np.float32)
    red[..., 0] = 255.0  # RGB, as the photo networks take it
    assert decode_data_url(input_image_data_url(red, (0.0, 255.0)))[0, 0].tolist() == [0, 0, 255]  # BGR on disk
