"""The protocol layer through Flask's test client with fake models: batches, KServe v2, TF Serving, request ids."""

from __future__ import annotations

import base64
import io
import json
import logging
import struct

import numpy as np
import pytest

from service import create_app, logs
from service.config import Settings


@pytest.fixture
def small_batch_client(settings, registry):
    app = create_app(Settings(**{**settings.__dict__, "max_batch": 3}), registry)
    return app.test_client()


TRUNCATED_PNG = b"\x89PNG\r\n\x1a\n\x00\x00"
TRUNCATED_B64 = "iVBORw0KGgoAAA=="


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- /predict with several images ---------------------------------------------------------------------------------


def test_predict_two_image_parts_answers_both_in_order_in_one_runtime_call(client, registry, digit_png, photo_jpeg):
    runtime = registry.get("flowers").runtime
    data = {"image": [(io.BytesIO(photo_jpeg), "a.jpg"), (io.BytesIO(photo_jpeg), "b.jpg")]}
    response = client.post("/predict?model=flowers", data=data, content_type="multipart/form-data")
    assert response.status_code == 200
    body = response.get_json()
    assert [p["label"] for p in body["predictions"]] == ["roses", "roses"]
    assert body["model"] == "flowers"
    assert [len(b) for b in runtime.batches] == [2]


def test_predict_one_image_part_keeps_the_single_answer_shape(client, digit_png):
    response = client.post("/predict", data={"image": (io.BytesIO(digit_png), "a.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert response.get_json()["prediction"] == 7 and "predictions" not in response.get_json()


def test_predict_names_the_broken_image_of_a_batch(client, digit_png):
    data = {"image": [(io.BytesIO(digit_png), "a.png"), (io.BytesIO(TRUNCATED_PNG), "b.png")]}
    response = client.post("/predict", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "image 2 of 2" in response.get_json()["error"]


def test_batches_beyond_max_batch_are_413(small_batch_client, digit_png):
    data = {"image": [(io.BytesIO(digit_png), f"{i}.png") for i in range(4)]}
    response = small_batch_client.post("/predict", data=data, content_type="multipart/form-data")
    assert response.status_code == 413
    assert "CLASSIFIER_MAX_BATCH" in response.get_json()["error"]
    tensor = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [4, 28, 28, 1], "data": [0.0] * 4 * 784}]}
    assert small_batch_client.post("/v2/models/mnist/infer", json=tensor).status_code == 413


# --- KServe v2 ----------------------------------------------------------------------------------------------------


def test_v2_health_and_metadata(client):
    assert client.get("/v2/health/live").get_json() == {"live": True}
    assert client.get("/v2/health/ready").get_json() == {"ready": True}
    assert "binary_tensor_data" in client.get("/v2").get_json()["extensions"]
    meta = client.get("/v2/models/mnist").get_json()
    assert meta["versions"] == ["1"]
    assert meta["inputs"][0] == {"name": "input", "datatype": "FP32", "shape": [-1, 28, 28, 1]}
    assert meta["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]}]
    assert client.get("/v2/models/mnist/versions/1/ready").status_code == 200
    missing = client.get("/v2/models/mnist/versions/9")
    assert missing.status_code == 404 and "available versions: 1" in missing.get_json()["error"]
    assert client.get("/v2/models/nope/ready").status_code == 404


def test_v2_json_tensor_batch(client, registry):
    data = np.zeros((2, 28, 28, 1), np.float32)
    request = {"id": "r1", "inputs": [{"name": "input", "datatype": "FP32", "shape": [2, 28, 28, 1],
                                        "data": data.ravel().tolist()}]}
    response = client.post("/v2/models/mnist/infer", json=request)
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == "r1" and body["model_name"] == "mnist"
    (output,) = body["outputs"]
    assert output["shape"] == [2, 10] and len(output["data"]) == 20
    assert np.argmax(np.reshape(output["data"], (2, 10)), axis=1).tolist() == [7, 7]
    assert [len(b) for b in registry.get("mnist").runtime.batches] == [2]


def test_v2_binary_bytes_input_and_binary_classification_output(client, photo_jpeg):
    element = struct.pack("<I", len(photo_jpeg)) + photo_jpeg
    header = json.dumps({
        "inputs": [{"name": "image", "datatype": "BYTES", "shape": [2],
                    "parameters": {"binary_data_size": 2 * len(element)}}],
        "outputs": [{"name": "probabilities", "parameters": {"binary_data": True, "classification": 2}}],
    }).encode()
    response = client.post("/v2/models/flowers/infer", data=header + element * 2,
                           headers={"Inference-Header-Content-Length": str(len(header)),
                                    "Content-Type": "application/octet-stream"})
    assert response.status_code == 200, response.data[:300]
    length = int(response.headers["Inference-Header-Content-Length"])
    answer = json.loads(response.data[:length])
    (output,) = answer["outputs"]
    assert output["datatype"] == "BYTES" and output["shape"] == [2, 2]
    raw = response.data[length:]
    assert len(raw) == output["parameters"]["binary_data_size"]
    size = struct.unpack_from("<I", raw)[0]
    assert raw[4:4 + size].decode().endswith(":2:roses")


def test_v2_json_bytes_are_base64(client, digit_png):
    request = {"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": [b64(digit_png)]}],
               "parameters": {"binary_data_output": True}}
    response = client.post("/v2/models/mnist/infer", json=request)
    assert response.status_code == 200
    length = int(response.headers["Inference-Header-Content-Length"])
    probabilities = np.frombuffer(response.data[length:], "<f4")
    assert probabilities.shape == (10,) and int(np.argmax(probabilities)) == 7


@pytest.mark.parametrize("request_body, words", [
    ({"inputs": []}, "exactly one input"),
    ({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 28, 28], "data": [0.0] * 784}],
      "outputs": [{"name": "labels"}]}, "unknown output"),
    ({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 27, 27, 1], "data": [0.0] * 729}]}, "[N, 28, 28, 1]"),
    ({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 28, 28, 1], "data": [0.0] * 5}]}, "do not form"),
    ({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 28, 28, 1]}]}, "neither"),
    ({"inputs": [{"name": "input", "datatype": "STRING", "shape": [1], "data": ["x"]}]}, "not supported"),
    ({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": ["%%%"]}]}, "base64"),
    ({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [2], "data": ["aGk="]}]}, "holds 1 elements"),
    ({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": [TRUNCATED_B64]}]}, "truncated"),
    ({"inputs": [{"name": "input", "datatype": "FP32", "shape": "x"}]}, "shape"),
])
def test_v2_bad_requests_are_400_with_a_reason(client, request_body, words):
    response = client.post("/v2/models/mnist/infer", json=request_body)
    assert response.status_code == 400, response.get_json()
    assert words in response.get_json()["error"]


def test_v2_bad_binary_header_is_400(client):
    response = client.post("/v2/models/mnist/infer", data=b"{}", headers={"Inference-Header-Content-Length": "99"})
    assert response.status_code == 400 and "does not fit" in response.get_json()["error"]
    response = client.post("/v2/models/mnist/infer", data=b"not json")
    assert response.status_code == 400 and "not valid JSON" in response.get_json()["error"]


# --- TF Serving ---------------------------------------------------------------------------------------------------


def test_tfserving_status_and_metadata(client):
    status = client.get("/v1/models/mnist").get_json()
    assert status["model_version_status"] == [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]
    assert client.get("/v1/models/mnist/versions/1").status_code == 200
    assert client.get("/v1/models/mnist/versions/2").status_code == 404
    signature = client.get("/v1/models/flowers/metadata").get_json()["metadata"]["signature_def"]["signature_def"]
    dims = signature["serving_default"]["inputs"]["input"]["tensor_shape"]["dim"]
    assert [d["size"] for d in dims] == ["-1", "180", "180", "3"]


def test_tfserving_predict_rows_of_images(client, photo_jpeg):
    response = client.post("/v1/models/flowers:predict",
                           json={"instances": [{"b64": b64(photo_jpeg)}, {"image_bytes": {"b64": b64(photo_jpeg)}}]})
    assert response.status_code == 200
    predictions = response.get_json()["predictions"]
    assert [p["classes"] for p in predictions] == [2, 2]
    assert len(predictions[0]["probabilities"]) == 5


def test_tfserving_predict_pixel_rows_and_columns(client):
    zeros = np.zeros((28, 28)).tolist()
    rows = client.post("/v1/models/mnist/versions/1:predict", json={"instances": [zeros, zeros, zeros]})
    assert rows.status_code == 200 and [p["classes"] for p in rows.get_json()["predictions"]] == [7, 7, 7]
    columns = client.post("/v1/models/mnist:predict", json={"inputs": {"input": [zeros]}})
    assert columns.status_code == 200
    assert columns.get_json()["outputs"]["classes"] == [7]


def test_tfserving_classify_answers_label_score_pairs(client, digit_png):
    response = client.post("/v1/models/mnist:classify", json={"examples": [{"b64": b64(digit_png)}]})
    assert response.status_code == 200
    (result,) = response.get_json()["results"]
    assert result[0][0] == "7" and result[0][1] > 0.9 and len(result) == 10


@pytest.mark.parametrize("body, status, words", [
    ({"instances": []}, 400, "non-empty list"),
    ({"nothing": 1}, 400, "instances"),
    ({"instances": [{"b64": "###"}]}, 400, "base64"),
    ({"instances": [{"b64": TRUNCATED_B64}]}, 400, "truncated"),
    ({"instances": [[1, 2, 3]]}, 400, "[N, 28, 28, 1]"),
    ({"instances": [{"b64": "aGk="}, [1]]}, 400, "mix"),
    ({"instances": [["a"]]}, 400, "numeric"),
])
def test_tfserving_errors_are_json_with_error(client, body, status, words):
    response = client.post("/v1/models/mnist:predict", json=body)
    assert response.status_code == status
    assert words in response.get_json()["error"]


def test_tfserving_unknown_model_and_non_json(client):
    assert client.post("/v1/models/nope:predict", json={"instances": [[0]]}).status_code == 404
    response = client.post("/v1/models/mnist:predict", data=b"x", content_type="text/plain")
    assert response.status_code == 400 and "JSON object" in response.get_json()["error"]


# --- request ids and metrics --------------------------------------------------------------------------------------


def test_request_id_is_kept_or_made(client):
    kept = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["X-Request-ID"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["X-Request-ID"] != "bad id with spaces" and len(made.headers["X-Request-ID"]) == 32
    assert client.get("/no/such/page").headers["X-Request-ID"]


def test_request_id_is_on_the_log_lines_of_its_request_in_json(client):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter("json"))
    handler.addFilter(logs.RequestIdFilter())
    logging.getLogger().addHandler(handler)
    try:
        client.post("/predict", data=b"not an image", content_type="image/png", headers={"X-Request-ID": "trace-42"})
        logging.getLogger("after").warning("outside a request")
    finally:
        logging.getLogger().removeHandler(handler)
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["request_id"] for e in entries if "POST /predict" in e["message"]] == ["trace-42"]
    assert entries[-1]["request_id"] == "-" and entries[-1]["level"] == "WARNING"


def test_metrics_count_requests_by_route_model_and_status(client, digit_png):
    client.post("/predict", data=digit_png, content_type="image/png")
    text = client.get("/metrics").get_data(as_text=True)
    assert any(line.startswith("classifier_http_request_duration_seconds_count") and 'route="/predict"' in line
               and 'model="mnist"' in line and 'status="200"' in line for line in text.splitlines())
    assert "classifier_inference_batch_size_bucket" in text
    assert 'classifier_model_version_state{model="mnist",state="AVAILABLE",version="1"} 1.0' in text
