"""The digit gate and temperature through the API and the CLI, with fake runtimes (no model files)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from service import create_app
from service.cli import format_line
from service.inference import Manifest, Model, ModelRegistry
from service.inference.gate import DigitGate
from service.inference.model import softmax
from tests.conftest import encode

DIGITS = [str(d) for d in range(10)]


class LogitRuntime:
    """Answers the same logits for every input."""

    def __init__(self, logits: list[float]) -> None:
        self.logits = np.asarray(logits, np.float32)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return np.tile(self.logits, (batch.shape[0], 1))


def gated_mnist(tmp_path: Path, logits: list[float], threshold: float = 0.6, temperature: float = 1.0) -> Model:
    raw = {"name": "mnist", "version": "2", "labels": DIGITS, "input": {"shape": [28, 28, 1]},
           "preprocessing": {"kind": "mnist"}, "output": "logits", "files": {},
           "calibration": {"temperature": temperature}, "ood": {"threshold": threshold}}
    return Model(Manifest.from_dict(raw, tmp_path), LogitRuntime(logits), "fake")


SURE_SEVEN = [0.0] * 7 + [9.0] + [0.0] * 2
UNSURE = [1.0, 0.8, 0.9, 1.1, 0.7, 1.0, 0.9, 1.2, 0.8, 1.0]


def client_for(tmp_path: Path, model: Model, settings):
    app = create_app(settings, ModelRegistry({"mnist": model}))
    app.config["TESTING"] = True
    return app.test_client()


def post(client, data: bytes, url: str = "/mnist/classify"):
    return client.post(url, data={"image": (io.BytesIO(data), "x.png")}, content_type="multipart/form-data")


def test_a_sure_digit_is_answered(tmp_path, settings, digit_png):
    response = post(client_for(tmp_path, gated_mnist(tmp_path, SURE_SEVEN), settings), digit_png)
    assert response.status_code == 200
    assert response.get_json()["classification"] == "7"


def test_an_unsure_answer_is_not_a_digit_404_on_mnist_classify(tmp_path, settings, digit_png):
    response = post(client_for(tmp_path, gated_mnist(tmp_path, UNSURE), settings), digit_png)
    assert response.status_code == 404
    body = response.get_json()
    assert body["code"] == "not_a_digit"
    assert body["error"] == "no handwritten digit found in the image"
    assert body["status"] == 404
    assert 0 < body["score"] < 0.6


def test_not_a_digit_is_422_on_predict(tmp_path, settings, digit_png):
    client = client_for(tmp_path, gated_mnist(tmp_path, UNSURE), settings)
    response = client.post("/predict?model=mnist", data=digit_png, content_type="image/png")
    assert response.status_code == 422
    assert response.get_json()["code"] == "not_a_digit"


def test_a_blank_page_is_refused_before_the_network(tmp_path, settings):
    blank = encode(np.full((300, 400), 228, np.uint8))
    response = post(client_for(tmp_path, gated_mnist(tmp_path, SURE_SEVEN), settings), blank)
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_a_digit"


def test_a_model_without_a_gate_answers_everything(tmp_path, settings):
    model = gated_mnist(tmp_path, UNSURE)
    object.__setattr__(model, "gate", None)
    response = post(client_for(tmp_path, model, settings), encode(np.full((300, 400), 228, np.uint8)))
    assert response.status_code == 200


def test_temperature_softens_the_scores(tmp_path):
    x = np.ones((28, 28, 1), np.float32)
    sharp = gated_mnist(tmp_path, SURE_SEVEN).classify([x])[0]
    soft = gated_mnist(tmp_path, SURE_SEVEN, temperature=3.0).classify([x])[0]
    assert soft.label == sharp.label == "7"
    assert soft.probability == pytest.approx(float(softmax(np.asarray(SURE_SEVEN) / 3.0)[7]), rel=1e-5)
    assert soft.probability < sharp.probability


def test_gate_reads_the_manifest_block():
    assert DigitGate.from_manifest({}) is None
    gate = DigitGate.from_manifest({"ood": {"threshold": 0.7}})
    assert gate is not None and gate.threshold == 0.7
    assert not gate.has_figure(np.zeros((28, 28, 1), np.float32))


def test_cli_line_keeps_one_key_and_says_not_a_digit():
    probabilities = softmax(np.asarray(UNSURE, np.float32))
    line = json.loads(format_line("dog.jpg", probabilities, DIGITS, recognised=False))
    assert list(line) == ["dog.jpg"]
    assert line["dog.jpg"]["class"] == "not_a_digit"
    assert set(line["dog.jpg"]) == {"score", "class"}
