"""A tiny end-to-end run per kind of data: train one epoch on a few hundred synthetic images into a temporary
folder, then load the exported model with the service's own registry and serve it through the app."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("tensorflow")

from service import create_app  # noqa: E402
from service.config import Settings  # noqa: E402
from service.inference import ModelRegistry  # noqa: E402
from training.cli import main  # noqa: E402

COLOURS = {"0red": (0, 0, 220), "1green": (0, 200, 0), "2blue": (220, 0, 0)}  # BGR, as cv2 writes


def rendered_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-like digits drawn with OpenCV's font: white on black, randomly placed."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count).astype(np.uint8)
    images = np.zeros((count, 28, 28), np.uint8)
    for image, label in zip(images, labels, strict=True):
        x, y = (int(v) for v in rng.integers(4, 9, 2))
        cv2.putText(image, str(label), (x, 28 - y), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
    return images, labels


@pytest.fixture(scope="module")
def mnist_npz(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("digits") / "mnist.npz"
    x_train, y_train = rendered_digits(300, 1)
    x_test, y_test = rendered_digits(100, 2)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def client_for(models_dir: Path):
    app = create_app(Settings(models_dir=models_dir))
    app.config["TESTING"] = True
    return app.test_client()


def test_flag_form_trains_exports_and_is_served(mnist_npz: Path, tmp_path: Path, capsys):
    models = tmp_path / "models"
    code = main(["--filename", str(models / "mnist"), "--epoch", "1", "--batchsize", "32", "--data", str(mnist_npz),
                 "--quiet"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "success" and set(result["train"]) == {"accuracy", "loss"}
    directory = models / "mnist" / "1"
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["labels"] == [str(d) for d in range(10)]
    assert manifest["input"] == {"shape": [28, 28, 1], "dtype": "float32", "range": [0, 1]}
    assert manifest["preprocessing"] == {"kind": "mnist"} and manifest["output"] == "logits"
    assert set(manifest["metrics"]["tflite"]) == {"float32", "float16", "int8"}
    assert manifest["metrics"]["tflite_served"] in manifest["metrics"]["tflite"]
    assert len(json.loads((directory / "history.json").read_text())) == 1
    assert (directory / "model.keras").is_file() and (directory / "model.tflite").is_file()

    registry = ModelRegistry.from_directory(models)
    model = registry.get("mnist")
    assert model.runtime_name == "tflite"
    digit = np.zeros((28, 28), np.uint8)
    cv2.putText(digit, "3", (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
    probabilities = model.predict(digit.astype(np.float32).reshape(1, 28, 28, 1) / 255)
    assert probabilities.shape == (1, 10) and abs(float(probabilities.sum()) - 1) < 1e-4

    ok, png = cv2.imencode(".png", 255 - cv2.resize(digit, (112, 112)))
    response = client_for(models).post("/predict?model=mnist", data=png.tobytes(),
                                       headers={"Content-Type": "image/png"})
    assert response.status_code == 200
    body = response.get_json()
    assert isinstance(body["prediction"], int) and str(body["prediction"]) in manifest["labels"]
    assert 0 <= body["probability"] <= 1

    # Again: the next version is published beside the first, which is never overwritten.
    first = (directory / "model.tflite").read_bytes()
    assert main(["--filename", str(models / "mnist"), "--epoch", "1", "--batchsize", "32", "--data",
                 str(mnist_npz), "--quiet"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["model"] == {"name": "mnist", "version": "2"}
    assert (directory / "model.tflite").read_bytes() == first
    assert json.loads((models / "mnist" / "2" / "manifest.json").read_text())["version"] == "2"
    assert (models / "mnist" / "default").read_text().strip() == second["promotion"]["default_version"]
    assert not [p for p in (models / "mnist").iterdir() if p.name.startswith(".")]
    # An explicit existing version is refused before any training, unless --force.
    assert main(["--filename", str(models / "mnist"), "--epoch", "1", "--version", "1", "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err


def make_folders(root: Path, per_class: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for name, colour in COLOURS.items():
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            image = rng.integers(0, 60, (48, 40, 3), dtype=np.uint8)
            x, y = (int(v) for v in rng.integers(4, 20, 2))
            cv2.rectangle(image, (x, y), (x + 16, y + 20), colour, -1)
            cv2.imwrite(str(folder / f"{i}.png"), image)


def test_folder_config_trains_exports_and_is_served(tmp_path: Path, capsys):
    data = tmp_path / "mugs"
    make_folders(data / "train", 60, 1)
    make_folders(data / "eval", 20, 2)
    models = tmp_path / "models"
    reference = tmp_path / "baseline" / "manifest.json"  # a baseline run's manifest, as an earlier export wrote it
    reference.parent.mkdir()
    reference.write_text(json.dumps({
        "params": 1234, "training": {"config": {"network": "flowers_cnn"}, "epochs_run": 3, "eval_set": "eval"},
        "metrics": {"eval_accuracy": 61.5, "train_seconds": 9.5, "tflite": {"int8": {"eval_accuracy": 61.0}}},
        "data": {"eval_count": 60}}))
    config = {
        "dataset": "TrainEvalFolderDataset",
        "dataset_args": {"path": str(data), "image_size": [32, 32, 3], "final": True, "channel_gain": 0.2},
        "model": "MugModel", "network": "mugs_cnn", "network_args": {"width": 8},
        "train_args": {"batch_size": 32, "epochs": 1}, "save_weights": True, "filename": str(models / "mugs"),
        "reference": str(reference),
    }
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    assert main(["--config", str(config_path), "--quiet"]) == 0
    capsys.readouterr()
    manifest = json.loads((models / "mugs" / "1" / "manifest.json").read_text())
    assert manifest["labels"] == ["red", "green", "blue"]  # the leading class index is dropped, order kept
    assert manifest["preprocessing"]["kind"] == "rgb" and manifest["preprocessing"]["size"] == [32, 32]
    # final mode: trained on train/ + eval/, after measuring the same recipe on train/ only
    assert manifest["data"]["train_count"] == 240 and manifest["metrics"]["eval_count"] == 60
    train_only = manifest["metrics"]["train_only"]
    assert 0 <= train_only["eval_accuracy"] <= 100 and set(train_only["tflite"]) == {"float32", "float16", "int8"}
    # the baseline's figures are recorded beside the model's own
    recorded = manifest["metrics"]["reference_flowers_cnn"]
    assert recorded["eval_accuracy"] == 61.5 and recorded["epochs"] == 3 and recorded["manifest"] == str(reference)

    image = cv2.imread(str(data / "eval" / "2blue" / "0.png"))
    ok, jpeg = cv2.imencode(".jpg", image)
    response = client_for(models).post("/predict?model=mugs", data=jpeg.tobytes(),
                                       headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["prediction"] == body["label"] and body["label"] in manifest["labels"]
    assert body["probabilities"].keys() == set(manifest["labels"])


def test_split_folder_config_records_its_reference_and_exports_the_mirror_average(tmp_path: Path, capsys):
    """A validation-split run (no final mode) with a baseline to record, CutMix's one-hot labels, and test-time
    flip averaging: the served network answers the same for a photo and its mirror image, and the figure without
    the flip is kept."""
    data = tmp_path / "flowers"
    make_folders(data, 40, 3)
    baseline = tmp_path / "runs" / "baseline"
    first = {
        "dataset": "ImageFolderDataset",
        "dataset_args": {"path": str(data), "image_size": [32, 32, 3], "validation_split": 0.25, "seed": 5},
        "model": "FlowerModel", "network": "mugs_cnn", "network_args": {"width": 8},
        "train_args": {"batch_size": 32, "epochs": 1}, "filename": str(baseline),
    }
    second = {**first, "filename": str(tmp_path / "models" / "flowers"), "test_time_flip": True,
              "train_args": {**first["train_args"], "label_smoothing": 0.1, "ema_momentum": 0.9, "cutmix": 0.5},
              "reference": str(baseline / "1" / "manifest.json")}
    for number, config in enumerate((first, second)):
        path = tmp_path / f"config{number}.json"
        path.write_text(json.dumps(config))
        assert main(["--config", str(path), "--quiet"]) == 0
    capsys.readouterr()
    manifest = json.loads((tmp_path / "models" / "flowers" / "1" / "manifest.json").read_text())
    baseline_manifest = json.loads((baseline / "1" / "manifest.json").read_text())
    recorded = manifest["metrics"]["reference_mugs_cnn"]
    assert recorded["validation_accuracy"] == baseline_manifest["metrics"]["validation_accuracy"]
    assert recorded["same_split"] is True and recorded["epochs"] == 1
    assert manifest["training"]["config"]["test_time_flip"] is True
    assert "CutMix on 50% of the batches" in manifest["training"]["optimizer"]
    assert 0 <= manifest["metrics"]["without_test_time_flip"]["validation_accuracy"] <= 100

    image = cv2.imread(str(data / "2blue" / "0.png"))
    answers = []
    for view in (image, image[:, ::-1]):
        ok, png = cv2.imencode(".png", np.ascontiguousarray(view))
        response = client_for(tmp_path / "models").post("/predict?model=flowers", data=png.tobytes(),
                                                         headers={"Content-Type": "image/png"})
        assert response.status_code == 200
        answers.append(response.get_json()["probabilities"])
    assert answers[0] == pytest.approx(answers[1], abs=1e-5)


def test_invalid_config_file_exits_with_the_named_field(tmp_path: Path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"dataset": "MnistDataset", "model": "DigitModel", "network": "lenet5",
                                "train_args": {"batch_size": 0, "epochs": 1}}))
    assert main(["--config", str(path)]) == 2
    assert "train_args.batch_size: must be >= 1" in capsys.readouterr().err


def test_training_streams_from_tfrecord_shards(mnist_npz: Path, tmp_path: Path):
    from training import tfrecords
    from training.config import validate_config
    from training.run import train

    tfrecords.convert_mnist(mnist_npz, tmp_path / "records", shards=3)
    config = validate_config({
        "dataset": "MnistDataset", "dataset_args": {"tfrecords_dir": str(tmp_path / "records")},
        "model": "DigitModel", "network": "mlp", "network_args": {"units": 32},
        "train_args": {"batch_size": 64, "epochs": 2}, "save_weights": False,
    })
    result = train(config, progress=False)
    assert result["status"] == "success" and len(result["history"]) == 2
    assert 0.0 <= result["test"]["accuracy"] <= 1.0 and result["eval_name"] == "test"
