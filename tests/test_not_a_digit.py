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
from service.inference.gate import DigitGate, energy_score, has_figure, ink_axes
from service.inference.model import softmax
from tests.conftest import SHARED_DATA, encode

DIGITS = [str(d) for d in range(10)]


class LogitRuntime:
    """Answers the same logits for every input."""

    def __init__(self, logits: list[float]) -> None:
        self.logits = np.asarray(logits, np.float32)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return np.tile(self.logits, (batch.shape[0], 1))


def gated_mnist(tmp_path: Path, logits: list[float], threshold: float = 5.0, temperature: float = 1.0) -> Model:
    raw = {"name": "mnist", "version": "2", "labels": DIGITS, "input": {"shape": [28, 28, 1]},
           "preprocessing": {"kind": "mnist"}, "output": "logits", "files": {},
           "calibration": {"temperature": temperature}, "ood": {"threshold": threshold}}
    return Model(Manifest.from_dict(raw, tmp_path), LogitRuntime(logits), "fake")


SURE_SEVEN = [0.0] * 7 + [9.0] + [0.0] * 2  # energy score about 9.0: above the threshold of 5
UNSURE = [1.0, 0.8, 0.9, 1.1, 0.7, 1.0, 0.9, 1.2, 0.8, 1.0]  # about 3.2: no digit stands out


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
    assert not gate.accepts(np.zeros((28, 28, 1), np.float32), np.asarray(SURE_SEVEN))  # no ink: no figure


def bar(angle: float, width: int = 2) -> np.ndarray:
    """A straight stroke 20 pixels long through the centre of a 28x28 input, ``angle`` degrees from the horizontal."""
    import cv2

    image = np.zeros((28, 28), np.float32)
    dx, dy = 10 * np.cos(np.radians(angle)), -10 * np.sin(np.radians(angle))
    cv2.line(image, (round(14 - dx), round(14 - dy)), (round(14 + dx), round(14 + dy)), 1.0, width, cv2.LINE_AA)
    return image[..., None]


def test_ink_axes_of_lines_a_disc_and_nothing():
    flat, upright, disc = ink_axes(bar(0)), ink_axes(bar(90)), ink_axes(np.pad(np.ones((10, 10)), 9))
    assert flat[0] < 0.2 and flat[1] == pytest.approx(0, abs=1)
    assert upright[0] < 0.2 and upright[1] == pytest.approx(90, abs=1)
    assert ink_axes(bar(45))[1] == pytest.approx(45, abs=3)
    assert disc[0] == pytest.approx(1.0)
    assert ink_axes(np.zeros((28, 28))) == (0.0, 0.0)


@pytest.mark.parametrize(("angle", "figure"), [(0, False), (15, False), (-20, False), (45, True), (70, True),
                                               (90, True), (-60, True)])
def test_a_flat_dash_is_no_figure_but_an_upright_or_slanted_stroke_is(angle: float, figure: bool):
    """A 1 stands upright or leans; a nearly horizontal straight stroke is a rule's piece, an edge, a lone bar."""
    assert has_figure(bar(angle)) is figure
    gate = DigitGate(threshold=0.0)
    assert gate.accepts(bar(angle), np.asarray(SURE_SEVEN)) is figure


def test_no_mnist_digit_is_a_flat_dash():
    path = SHARED_DATA / "mnist" / "mnist.npz"
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data folder beside the repository)")
    with np.load(path) as data:
        digits = np.concatenate([data["x_train"], data["x_test"]]).astype(np.float32) / 255
    dashes = [i for i, image in enumerate(digits) if not has_figure(image)]
    assert dashes == []


def test_cli_line_keeps_one_key_and_says_not_a_digit():
    probabilities = softmax(np.asarray(UNSURE, np.float32))
    line = json.loads(format_line("dog.jpg", probabilities, DIGITS, recognised=False))
    assert list(line) == ["dog.jpg"]
    assert line["dog.jpg"]["class"] == "not_a_digit"
    assert set(line["dog.jpg"]) == {"score", "class"}


def test_energy_score_is_the_log_sum_exp_of_the_logits():
    logits = np.array([[0.0, 0.0], [10.0, -10.0], [1000.0, 1000.0]])
    np.testing.assert_allclose(energy_score(logits), [np.log(2), 10.0, 1000.0 + np.log(2)], rtol=1e-6)
    assert energy_score(np.asarray(SURE_SEVEN)) > 5.0 > energy_score(np.asarray(UNSURE))
