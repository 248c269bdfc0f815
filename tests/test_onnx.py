"""ONNX models through ONNX Runtime: a small network built here with onnx's helper API, served from a models/
folder and classified by ``classify --model-path model.onnx``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from service.config import REPO_ROOT, Settings
from service.errors import ModelLoadError
from service.inference import ModelRegistry
from service.inference.runtimes import FORMATS, OnnxRuntime, format_of

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

WINNER = 3


def digit_network(path: Path) -> Path:
    """(N, 28, 28, 1) -> logits (N, 10): flatten, one dense layer whose class ``WINNER`` sums the pixels.

    Any image with ink scores WINNER; a blank one ties (all logits zero). The batch axis is dynamic.
    """
    weights = np.zeros((784, 10), np.float32)
    weights[:, WINNER] = 1.0
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["input", "flat_shape"], ["flat"]),
            helper.make_node("MatMul", ["flat", "weights"], ["logits"]),
        ],
        "digits",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 28, 28, 1])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        initializer=[numpy_helper.from_array(np.array([-1, 784], np.int64), "flat_shape"),
                     numpy_helper.from_array(weights, "weights")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def test_one_table_of_formats_knows_onnx():
    assert [fmt.name for fmt in FORMATS] == ["tflite", "onnx", "keras"]
    assert format_of(Path("x.ONNX")).name == "onnx"
    with pytest.raises(ModelLoadError, match=r"\.tflite, \.onnx, \.keras, \.h5"):
        format_of(Path("x.pt"))


def test_onnx_runtime_batches(tmp_path):
    runtime = OnnxRuntime(digit_network(tmp_path / "m.onnx"))
    assert runtime.input_shape == (28, 28, 1)
    batch = np.zeros((3, 28, 28, 1), np.float32)
    batch[1, 10:15, 10:15] = 1
    outputs = runtime.predict(batch)
    assert outputs.shape == (3, 10) and outputs[1, WINNER] == 25 and outputs[0].max() == 0


def test_a_broken_onnx_file_is_a_model_load_error(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not a protobuf")
    with pytest.raises(ModelLoadError, match="cannot load ONNX model"):
        OnnxRuntime(path)


def test_models_folder_with_an_onnx_file_is_served(tmp_path, digit_png):
    from service import create_app

    folder = tmp_path / "models" / "digits-onnx" / "1"
    folder.mkdir(parents=True)
    digit_network(folder / "model.onnx")
    (folder / "manifest.json").write_text(json.dumps({
        "name": "digits-onnx", "version": "1", "labels": [str(d) for d in range(10)],
        "input": {"shape": [28, 28, 1], "dtype": "float32", "range": [0, 1]}, "preprocessing": {"kind": "mnist"},
        "output": "logits", "files": {"onnx": "model.onnx"},
    }))
    registry = ModelRegistry.from_directory(tmp_path / "models")
    assert registry.get("digits-onnx").runtime_name == "onnx"
    client = create_app(Settings(models_dir=tmp_path / "models"), registry).test_client()
    response = client.post("/predict?model=digits-onnx", data=digit_png, content_type="image/png")
    assert response.status_code == 200
    assert response.get_json()["prediction"] == WINNER


def test_classify_model_path_onnx(tmp_path):
    model = digit_network(tmp_path / "digits.onnx")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"digit {d}" for d in range(10)))
    image = tmp_path / "seven.png"
    shutil.copy(REPO_ROOT / "test-data" / "special" / "mnist28-7.png", image)
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "--model-path", str(model), "--labels", str(labels), str(image)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"seven.png": {"score": pytest.approx(1.0, abs=1e-3),
                                                     "class": f"digit {WINNER}"}}
