"""The training config schema (shared with POST /api/v1/train): every missing or invalid field gives a 422 error
that names the field."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from service.errors import InvalidConfig
from training.config import validate_config

REPO = Path(__file__).resolve().parent.parent

SPEC_EXAMPLE = {
    "dataset": "MnistDataset", "dataset_args": {"image_size": [28, 28, 1]}, "model": "DigitModel",
    "network": "lenet5", "network_args": {"activation": "relu", "dropout_amount": 0.2},
    "train_args": {"batch_size": 32, "epochs": 10}, "save_weights": True,
}


def with_change(path: str, value=None, delete: bool = False) -> dict:
    config = copy.deepcopy(SPEC_EXAMPLE)
    *parents, key = path.split(".")
    target = config
    for parent in parents:
        target = target[parent]
    if delete:
        del target[key]
    else:
        target[key] = value
    return config


def test_spec_example_is_valid():
    config = validate_config(SPEC_EXAMPLE)
    assert (config.name, config.network, config.epochs, config.batch_size) == ("mnist", "lenet5", 10, 32)
    assert config.save_weights is True and config.version is None  # publish as the next version
    assert config.promote == "if_better"


@pytest.mark.parametrize("field", ["dataset", "model", "network", "train_args", "train_args.epochs",
                                   "train_args.batch_size"])
def test_missing_required_field_is_named(field):
    with pytest.raises(InvalidConfig) as info:
        validate_config(with_change(field, delete=True))
    assert info.value.status == 422
    assert f"{field}: is required" in info.value.message


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("dataset", "CifarDataset", "dataset: unknown dataset 'CifarDataset'"),
    ("model", "CatModel", "model: unknown model 'CatModel'"),
    ("network", "resnet152", "network: unknown network 'resnet152'"),
    ("dataset_args", [28, 28], "dataset_args: must be an object"),
    ("dataset_args.image_size", [28, 28], "dataset_args.image_size: must be [height, width, channels]"),
    ("dataset_args.image_size", "28x28", "dataset_args.image_size: must be a list"),
    ("dataset_args.colour", True, "dataset_args.colour: unknown argument"),
    ("network_args", "relu", "network_args: must be an object"),
    ("network_args.activation", "sparkle", "network_args.activation: unknown activation 'sparkle'"),
    ("network_args.activation", 3, "network_args.activation: must be a string"),
    ("network_args.dropout_amount", 1.5, "network_args.dropout_amount: must be in [0, 1)"),
    ("network_args.dropout_amount", "0.2", "network_args.dropout_amount: must be a number"),
    ("network_args.width", 64, "network_args.width: unknown argument"),  # lenet5 has no width
    ("train_args", 10, "train_args: must be an object"),
    ("train_args.epochs", 0, "train_args.epochs: must be >= 1"),
    ("train_args.epochs", "ten", "train_args.epochs: must be an integer"),
    ("train_args.epochs", True, "train_args.epochs: must be an integer"),
    ("train_args.batch_size", 2.5, "train_args.batch_size: must be an integer"),
    ("train_args.learning_rate", 0, "train_args.learning_rate: must be > 0"),
    ("train_args.weight_decay", -1, "train_args.weight_decay: must be >= 0"),
    ("train_args.optimizer", "sgd", "train_args.optimizer: unknown argument"),
    ("train_args.label_smoothing", 1.0, "train_args.label_smoothing: must be in [0, 1)"),
    ("train_args.ema_momentum", -0.5, "train_args.ema_momentum: must be in [0, 1)"),
    ("train_args.ema_momentum", "high", "train_args.ema_momentum: must be a number"),
    ("train_args.cutmix", 1.5, "train_args.cutmix: must be a share of batches in [0, 1]"),
    ("train_args.cutmix", "half", "train_args.cutmix: must be a number"),
    ("test_time_flip", "yes", "test_time_flip: must be true or false"),
    ("save_weights", "yes", "save_weights: must be true or false"),
    ("version", 2, "version: must be a string"),
    ("reference", ["runs/x"], "reference: must be a string"),
    ("epochs", 3, "epochs: unknown field"),
])
def test_invalid_field_is_named(field, value, expected):
    with pytest.raises(InvalidConfig) as info:
        validate_config(with_change(field, value))
    assert info.value.status == 422
    assert expected in info.value.message


def test_every_problem_is_reported_at_once():
    config = with_change("train_args", {"epochs": -1})
    config["network"] = "nope"
    with pytest.raises(InvalidConfig) as info:
        validate_config(config)
    message = info.value.message
    assert "network: unknown network" in message
    assert "train_args.batch_size: is required" in message
    assert "train_args.epochs: must be >= 1" in message


@pytest.mark.parametrize("raw", [None, [], "config", 3])
def test_non_object_config(raw):
    with pytest.raises(InvalidConfig, match="must be a JSON object"):
        validate_config(raw)


@pytest.mark.parametrize("dataset", ["ImageFolderDataset", "TrainEvalFolderDataset"])
def test_folder_datasets_require_path_and_size(dataset):
    config = dict(SPEC_EXAMPLE, dataset=dataset, dataset_args={})
    with pytest.raises(InvalidConfig) as info:
        validate_config(config)
    assert "dataset_args.path: is required" in info.value.message
    assert "dataset_args.image_size: is required" in info.value.message


def test_validation_split_range():
    config = dict(SPEC_EXAMPLE, dataset="ImageFolderDataset",
                  dataset_args={"path": "x", "image_size": [8, 8, 3], "validation_split": 1.0})
    with pytest.raises(InvalidConfig, match="dataset_args.validation_split: must be between 0 and 1"):
        validate_config(config)


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.json")), ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    validate_config(json.loads(path.read_text()))


@pytest.mark.parametrize("share", [0, 1.5, -0.2, "half"])
def test_augment_share_is_a_share_of_the_batch(share):
    raw = {"dataset": "MnistDataset", "dataset_args": {"augment_share": share}, "model": "DigitModel",
           "network": "cnn", "train_args": {"batch_size": 8, "epochs": 1}}
    with pytest.raises(InvalidConfig, match="dataset_args.augment_share"):
        validate_config(raw)
    raw["dataset_args"]["augment_share"] = 0.5
    assert validate_config(raw).dataset_args["augment_share"] == 0.5


def test_synthetic_dataset_args_are_checked():
    raw = {"dataset": "MnistDataset",
           "dataset_args": {"synthetic": {"digits": -1, "colour": 2, "seed": "x", "drop_straight_negatives": 1,
                                          "drop_misread_by": 3, "gate_chosen_on": "everything",
                                          "gate_max_refused": 2, "gate_min_refused": 1.5}},
           "model": "DigitModel", "network": "cnn", "train_args": {"batch_size": 8, "epochs": 1}}
    with pytest.raises(InvalidConfig) as caught:
        validate_config(raw)
    message = caught.value.message
    for field in ("dataset_args.synthetic.digits", "dataset_args.synthetic.colour", "dataset_args.synthetic.seed",
                  "dataset_args.synthetic.drop_straight_negatives", "dataset_args.synthetic.drop_misread_by",
                  "dataset_args.synthetic.gate_chosen_on", "dataset_args.synthetic.gate_max_refused",
                  "dataset_args.synthetic.gate_min_refused"):
        assert field in message
    good = {"digits": 10, "negatives": 5, "drop_straight_negatives": True, "drop_misread_by": "models/mnist/3",
            "gate_chosen_on": "rendered_read_right", "gate_max_refused": 0.02}
    raw["dataset_args"]["synthetic"] = good
    assert validate_config(raw).dataset_args["synthetic"] == good
    by_non_digits = {**good, "gate_chosen_on": "non_digits", "gate_min_refused": 0.98}
    raw["dataset_args"]["synthetic"] = by_non_digits
    assert validate_config(raw).dataset_args["synthetic"] == by_non_digits
    for outside in ("/etc", "models/../../elsewhere"):  # the API takes the same config: no path out of the repository
        raw["dataset_args"]["synthetic"] = {**good, "drop_misread_by": outside}
        with pytest.raises(InvalidConfig, match="drop_misread_by"):
            validate_config(raw)


def test_energy_margins_are_checked():
    base = {"dataset": "MnistDataset", "dataset_args": {"image_size": [28, 28, 1]}, "model": "DigitModel",
            "network": "cnn", "network_args": {}, "train_args": {"batch_size": 8, "epochs": 1}}
    good = validate_config({**base, "train_args": {**base["train_args"], "energy_margins": [7.0, 0.0]}})
    assert good.energy_margins == (7.0, 0.0) and good.energy_weight == 0.1
    for bad in ([0.0, 7.0], [7.0], ["a", 1]):
        with pytest.raises(InvalidConfig, match="energy_margins"):
            validate_config({**base, "train_args": {**base["train_args"], "energy_margins": bad}})


@pytest.mark.parametrize(("args", "expected"), [
    ({"width": 0}, "network_args.width: must be >= 1"),
    ({"head_units": -1}, "network_args.head_units: must be >= 0"),
    ({"head_units": 1.5}, "network_args.head_units: must be an integer"),
])
def test_digit_network_sizes_are_checked(args, expected):
    base = {"dataset": "MnistDataset", "dataset_args": {"image_size": [28, 28, 1]}, "model": "DigitModel",
            "network": "cnn", "network_args": {}, "train_args": {"batch_size": 8, "epochs": 1}}
    assert validate_config({**base, "network_args": {"width": 32, "head_units": 128}}).network_args["head_units"] == 128
    with pytest.raises(InvalidConfig) as info:
        validate_config({**base, "network_args": args})
    assert expected in info.value.message
