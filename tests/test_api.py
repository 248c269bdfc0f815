"""Every endpoint's success and error cases, through Flask's test client with fake models."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest

from tests.conftest import encode

BROKEN_INPUTS = {
    "empty file": (b"", "digit.png"),
    "text file": (b"hello, this is not an image\n", "notes.txt"),
    "text named png": (b"hello, this is not an image\n", "digit.png"),
    "truncated png": (b"\x89PNG\r\n\x1a\n\x00\x00", "digit.png"),
    "random bytes as jpg": (b"\xff\xd8\xff" + bytes(range(256)) * 4, "digit.jpg"),
    "gif": (b"GIF89a" + b"\x00" * 64, "digit.gif"),
}


def post_image(client, data: bytes, filename: str = "digit.png", field: str = "image", **kwargs):
    return client.post(
        "/mnist/classify", data={field: (io.BytesIO(data), filename)}, content_type="multipart/form-data", **kwargs
    )


# --- /mnist/classify -------------------------------------------------------------------------------------------


def test_mnist_classify_answers_classification_as_string(client, digit_png):
    response = post_image(client, digit_png)
    assert response.status_code == 200
    body = response.get_json()
    assert body["classification"] == "7"
    assert 0.99 < body["score"] <= 1.0
    assert set(body["probabilities"]) == {str(d) for d in range(10)}
    assert abs(sum(body["probabilities"].values()) - 1.0) < 1e-3


def test_mnist_classify_accepts_jpeg(client):
    image = np.full((300, 300, 3), 220, np.uint8)
    cv2.circle(image, (150, 150), 80, (20, 20, 20), 14)
    response = post_image(client, encode(image, ".jpg"), "zero.JPG")
    assert response.status_code == 200


@pytest.mark.parametrize("case", sorted(BROKEN_INPUTS))
def test_mnist_classify_invalid_input_is_404_json(client, case):
    data, filename = BROKEN_INPUTS[case]
    response = post_image(client, data, filename)
    assert response.status_code == 404
    body = response.get_json()
    assert body["status"] == 404 and body["error"]


def test_mnist_classify_without_image_field_is_404(client, digit_png):
    response = post_image(client, digit_png, field="file")
    assert response.status_code == 404
    assert "image" in response.get_json()["error"]


def test_mnist_classify_raw_body_is_404(client, digit_png):
    response = client.post("/mnist/classify", data=digit_png, content_type="image/png")
    assert response.status_code == 404


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_mnist_classify_other_methods_are_405_json(client, method):
    response = getattr(client, method)("/mnist/classify", headers={"Accept": "application/json"})
    assert response.status_code == 405
    assert response.get_json()["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_405_renders_html_for_browsers(client):
    response = client.get("/mnist/classify", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 405
    assert response.mimetype == "text/html"
    assert b"405" in response.data and b"<html" in response.data


def test_404_html_for_browsers_and_json_for_clients(client):
    html = client.get("/nowhere", headers={"Accept": "text/html"})
    assert html.status_code == 404 and html.mimetype == "text/html"
    api = client.get("/nowhere", headers={"Accept": "*/*"})
    assert api.status_code == 404 and api.get_json()["code"] == "not_found"


def test_invalid_upload_renders_html_404_for_browsers(client):
    response = post_image(client, b"not an image", "x.png", headers={"Accept": "text/html"})
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_too_large_body_is_413(client, settings):
    response = post_image(client, b"\x89PNG" + b"\0" * settings.max_upload_bytes)
    assert response.status_code == 413
    assert response.get_json()["code"] == "payload_too_large"


def test_decompression_bomb_is_rejected_before_decoding(client, settings):
    # A valid PNG signature and IHDR claiming 100000 x 100000 pixels, and nothing else.
    header = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + (100000).to_bytes(4, "big") * 2 + b"\x08\x00\x00\x00\x00"
    response = client.post("/predict", data=header, content_type="image/png")
    assert response.status_code == 413
    assert "pixels" in response.get_json()["error"]


# --- /predict and /api/v1/predict ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/predict", "/api/v1/predict"])
@pytest.mark.parametrize("content_type", ["image/png", "application/octet-stream"])
def test_predict_raw_body(client, digit_png, path, content_type):
    response = client.post(path, data=digit_png, content_type=content_type)
    assert response.status_code == 200
    body = response.get_json()
    assert body["prediction"] == 7 and isinstance(body["prediction"], int)
    assert 0 <= body["probability"] <= 1
    assert body["model"] == "mnist"


def test_predict_multipart(client, digit_png):
    response = client.post(
        "/predict", data={"image": (io.BytesIO(digit_png), "d.png")}, content_type="multipart/form-data"
    )
    assert response.status_code == 200 and response.get_json()["prediction"] == 7


def test_predict_other_model_by_query(client, photo_jpeg, registry):
    response = client.post("/predict?model=flowers", data=photo_jpeg, content_type="image/jpeg")
    assert response.status_code == 200
    assert response.get_json()["prediction"] == "roses"
    (batch,) = registry.get("flowers").runtime.batches
    assert batch.shape == (1, 180, 180, 3) and batch.dtype == np.float32


PREDICT_ERRORS = [
    ("text/plain", b"hello", "", 415, "unsupported_media_type"),
    ("image/png", b"", "", 400, "invalid_image"),
    ("image/png", b"\x89PNG\r\n\x1a\nbroken", "", 400, "invalid_image"),
    ("image/jpeg", b"\xff\xd8\xff\xe0 truncated", "", 400, "invalid_image"),
    ("application/octet-stream", b"BM not supported", "", 415, "unsupported_media_type"),
    ("image/png", None, "?model=dogs", 404, "model_not_found"),
]


@pytest.mark.parametrize(("content_type", "data", "query", "status", "code"), PREDICT_ERRORS)
def test_predict_errors(client, digit_png, content_type, data, query, status, code):
    response = client.post("/predict" + query, data=digit_png if data is None else data, content_type=content_type)
    assert response.status_code == status
    body = response.get_json()
    assert body == {"error": body["error"], "code": code, "status": status}
    assert len(body["error"]) > 10


def test_predict_multipart_without_image_field_is_400(client, digit_png):
    response = client.post(
        "/predict", data={"file": (io.BytesIO(digit_png), "d.png")}, content_type="multipart/form-data"
    )
    assert response.status_code == 400


def test_unexpected_error_is_500_json_and_logged(app, client, digit_png, registry, caplog):
    def explode(batch):
        raise RuntimeError("boom")

    registry.get("mnist").runtime.predict = explode
    response = client.post("/predict", data=digit_png, content_type="image/png")
    assert response.status_code == 500
    assert response.get_json()["code"] == "internal_error"
    assert sum("unexpected error" in r.getMessage() for r in caplog.records) == 1


# --- models, health ----------------------------------------------------------------------------------------------


def test_models_listing(client):
    body = client.get("/api/v1/models").get_json()
    names = [m["name"] for m in body["models"]]
    assert names == ["mnist", "flowers"]
    mnist = body["models"][0]
    assert mnist["labels"] == [str(d) for d in range(10)]
    assert mnist["input"]["shape"] == [28, 28, 1]
    assert mnist["metrics"] == {"accuracy": 0.5}


def test_model_detail_and_unknown_model(client):
    assert client.get("/api/v1/models/flowers").get_json()["labels"][2] == "roses"
    assert client.get("/api/v1/models/nope").status_code == 404


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["models"] == ["flowers", "mnist"]
