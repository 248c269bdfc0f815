"""The training config (the same JSON the API's ``POST /api/v1/train`` takes) and its validation.

Validation runs before anything heavy is imported or loaded, and raises ``service.errors.InvalidConfig`` (HTTP
422) with every problem, each naming its field (``train_args.epochs: ...``), so the API can reuse it as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from service.errors import InvalidConfig
from training.network_args import ACTIVATIONS, NETWORK_ARGS, NUMBER

NETWORK_NAMES = tuple(NETWORK_ARGS)

# model -> (served model name, task description)
MODELS: dict[str, tuple[str, str]] = {
    "DigitModel": ("mnist", "handwritten digit"),
    "FlowerModel": ("flowers", "flower photo"),
    "MugModel": ("mugs", "mug photo"),
}

# dataset -> {argument: (type, required)}
DATASET_ARGS: dict[str, dict[str, tuple[Any, bool]]] = {
    "MnistDataset": {"image_size": (list, False), "path": (str, False), "tfrecords_dir": (str, False),
                     "limit": (int, False), "seed": (int, False), "augment": (bool, False),
                     "augment_share": (NUMBER, False), "synthetic": (dict, False)},
    "ImageFolderDataset": {"path": (str, True), "image_size": (list, True), "validation_split": (NUMBER, False),
                           "seed": (int, False), "limit": (int, False), "channel_gain": (NUMBER, False)},
    "TrainEvalFolderDataset": {"path": (str, True), "image_size": (list, True), "final": (bool, False),
                               "limit": (int, False), "seed": (int, False), "channel_gain": (NUMBER, False)},
}
# dataset_args.synthetic of MnistDataset: rendered photos, drawings and non-digits (training.datasets.with_synthetic).
SYNTHETIC_ARGS: dict[str, tuple[Any, bool]] = {
    "digits": (int, False), "negatives": (int, False), "held_out_digits": (int, False),
    "held_out_negatives": (int, False), "seed": (int, False), "workers": (int, False),
    # training.selection: leave out non-digits that are one straight stroke, and rendered digits that the model
    # version in this folder (relative to the repository) misreads
    "drop_straight_negatives": (bool, False), "drop_misread_by": (str, False),
    # training.export.HeldOut: the held-out set the not-a-digit threshold is chosen on, the share of its digits it
    # may refuse (rules "mnist" and "rendered_read_right"), or the share of its non-digits it must ("non_digits")
    "gate_chosen_on": (str, False), "gate_max_refused": (NUMBER, False), "gate_min_refused": (NUMBER, False),
}
# dataset_args.synthetic.gate_chosen_on -> the held-out examples training.export.HeldOut chooses the threshold on
GATE_CHOSEN_ON = {"mnist": "held-out MNIST digits", "rendered_read_right": "held-out rendered digits read right",
                  "non_digits": "held-out rendered non-digits"}
TRAIN_ARGS: dict[str, tuple[Any, bool]] = {
    "batch_size": (int, True), "epochs": (int, True), "learning_rate": (NUMBER, False),
    "weight_decay": (NUMBER, False), "seed": (int, False), "initial_weights": (str, False),
    "label_smoothing": (NUMBER, False), "ema_momentum": (NUMBER, False), "cutmix": (NUMBER, False),
    "energy_margins": (list, False), "energy_weight": (NUMBER, False),
}
TOP_LEVEL = ("dataset", "dataset_args", "model", "network", "network_args", "train_args", "save_weights",
             "filename", "version", "reference", "test_time_flip", "promote")
# Whether a published version becomes the model's default (service.inference.versions.promotion_decision).
PROMOTE_POLICIES = ("if_better", "always", "never")


@dataclass(frozen=True)
class TrainConfig:
    dataset: str
    dataset_args: dict[str, Any]
    model: str
    network: str
    network_args: dict[str, Any]
    train_args: dict[str, Any]
    save_weights: bool = True
    filename: str | None = None  # export folder (the version folder goes inside); default models/<name>
    version: str | None = None  # None: publish as the next version; a number is only replaced with --force
    # manifest.json of a baseline run on the same data, whose figures are recorded beside this model's
    reference: str | None = None
    # export a network that averages the logits of the image and its mirror image (photo models)
    test_time_flip: bool = False
    # if_better: the new version becomes the default when its accuracy on the same evaluation set is at least the
    # current default's; always; never (promote later with POST /api/v1/models/<name>/versions/<v>/promote)
    promote: str = "if_better"

    @property
    def name(self) -> str:
        return MODELS[self.model][0]

    @property
    def task(self) -> str:
        return MODELS[self.model][1]

    @property
    def batch_size(self) -> int:
        return int(self.train_args["batch_size"])

    @property
    def epochs(self) -> int:
        return int(self.train_args["epochs"])

    @property
    def learning_rate(self) -> float:
        return float(self.train_args.get("learning_rate", 1e-3))

    @property
    def weight_decay(self) -> float:
        return float(self.train_args.get("weight_decay", 1e-4))

    @property
    def label_smoothing(self) -> float:
        return float(self.train_args.get("label_smoothing", 0.0))

    @property
    def ema_momentum(self) -> float:
        """0: train and ship the raw weights; else ship an exponential moving average of them."""
        return float(self.train_args.get("ema_momentum", 0.0))

    @property
    def cutmix(self) -> float:
        """The share of training batches mixed by CutMix (0: none); labels become one-hot soft labels then."""
        return float(self.train_args.get("cutmix", 0.0))

    @property
    def energy_margins(self) -> tuple[float, float] | None:
        """(digit's least, non-digit's most) log-sum-exp of the logits, for ``training.losses``; None: no margin."""
        margins = self.train_args.get("energy_margins")
        return (float(margins[0]), float(margins[1])) if margins else None

    @property
    def energy_weight(self) -> float:
        return float(self.train_args.get("energy_weight", 0.1))

    @property
    def seed(self) -> int:
        return int(self.train_args.get("seed", 0))

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "dataset_args": self.dataset_args, "model": self.model,
                "network": self.network, "network_args": self.network_args, "train_args": self.train_args,
                "save_weights": self.save_weights, "filename": self.filename, "version": self.version,
                **({"reference": self.reference} if self.reference else {}),
                **({"test_time_flip": True} if self.test_time_flip else {}), "promote": self.promote}


@dataclass
class _Problems:
    items: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def _type_name(expected: Any) -> str:
    if expected is NUMBER:
        return "a number"
    return {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "an object"}[expected]


def _is(value: Any, expected: Any) -> bool:
    if isinstance(value, bool) and expected is not bool:  # JSON true is not a number here
        return False
    return isinstance(value, expected)


def _check_args(problems: _Problems, where: str, args: Any, spec: dict[str, tuple[Any, bool]]) -> None:
    if not isinstance(args, dict):
        problems.add(where, f"must be an object, got {type(args).__name__}")
        return
    for key, (expected, required) in spec.items():
        if key not in args:
            if required:
                problems.add(f"{where}.{key}", "is required")
        elif not _is(args[key], expected):
            problems.add(f"{where}.{key}", f"must be {_type_name(expected)}, got {args[key]!r}")
    for key in args:
        if key not in spec:
            problems.add(f"{where}.{key}", f"unknown argument (accepted: {', '.join(sorted(spec)) or 'none'})")


def _check_values(problems: _Problems, raw: dict[str, Any]) -> None:
    """Range checks once the types are right."""
    train_args = raw.get("train_args") if isinstance(raw.get("train_args"), dict) else {}
    for key in ("batch_size", "epochs"):
        value = train_args.get(key)
        if _is(value, int) and value < 1:
            problems.add(f"train_args.{key}", f"must be >= 1, got {value}")
    for key, low in (("learning_rate", 0.0), ("weight_decay", -1e-30)):
        value = train_args.get(key)
        if _is(value, NUMBER) and not value > low:
            problems.add(f"train_args.{key}", f"must be {'> 0' if low == 0 else '>= 0'}, got {value}")
    for key in ("label_smoothing", "ema_momentum"):
        value = train_args.get(key)
        if _is(value, NUMBER) and not 0 <= value < 1:
            problems.add(f"train_args.{key}", f"must be in [0, 1), got {value}")
    margins = train_args.get("energy_margins")
    if isinstance(margins, list) and not (len(margins) == 2 and all(_is(m, NUMBER) for m in margins)
                                          and margins[0] > margins[1]):
        problems.add("train_args.energy_margins",
                     f"must be [digit's least score, non-digit's most score] with the first larger, got {margins}")
    value = train_args.get("energy_weight")
    if _is(value, NUMBER) and not value > 0:
        problems.add("train_args.energy_weight", f"must be > 0, got {value}")
    value = train_args.get("cutmix")
    if _is(value, NUMBER) and not 0 <= value <= 1:
        problems.add("train_args.cutmix", f"must be a share of batches in [0, 1], got {value}")
    dataset_args = raw.get("dataset_args") if isinstance(raw.get("dataset_args"), dict) else {}
    size = dataset_args.get("image_size")
    if isinstance(size, list) and not (len(size) == 3 and all(_is(d, int) and d > 0 for d in size)
                                       and size[2] in (1, 3)):
        problems.add("dataset_args.image_size", f"must be [height, width, channels] with channels 1 or 3, got {size}")
    split = dataset_args.get("validation_split")
    if _is(split, NUMBER) and not 0 < split < 1:
        problems.add("dataset_args.validation_split", f"must be between 0 and 1, got {split}")
    limit = dataset_args.get("limit")
    if _is(limit, int) and limit < 1:
        problems.add("dataset_args.limit", f"must be >= 1, got {limit}")
    augment_share = dataset_args.get("augment_share")
    if _is(augment_share, NUMBER) and not 0 < augment_share <= 1:
        problems.add("dataset_args.augment_share", f"must be in (0, 1], got {augment_share}")
    synthetic = dataset_args.get("synthetic")
    if isinstance(synthetic, dict):
        _check_args(problems, "dataset_args.synthetic", synthetic, SYNTHETIC_ARGS)
        for key, value in synthetic.items():
            if _is(value, int) and value < (1 if key == "workers" else 0):
                problems.add(f"dataset_args.synthetic.{key}", f"must be >= {1 if key == 'workers' else 0}, got {value}")
        chosen_on = synthetic.get("gate_chosen_on")
        if isinstance(chosen_on, str) and chosen_on not in GATE_CHOSEN_ON:
            problems.add("dataset_args.synthetic.gate_chosen_on",
                         f"unknown set {chosen_on!r} (one of: {', '.join(GATE_CHOSEN_ON)})")
        teacher = synthetic.get("drop_misread_by")
        if isinstance(teacher, str) and (PurePosixPath(teacher).is_absolute() or ".." in PurePosixPath(teacher).parts):
            problems.add("dataset_args.synthetic.drop_misread_by",
                         f"must be a version folder inside the repository, such as models/mnist/3; got {teacher!r}")
        for key in ("gate_max_refused", "gate_min_refused"):
            share = synthetic.get(key)
            if _is(share, NUMBER) and not 0 < share < 1:
                problems.add(f"dataset_args.synthetic.{key}", f"must be between 0 and 1, got {share}")
    network_args = raw.get("network_args") if isinstance(raw.get("network_args"), dict) else {}
    dropout = network_args.get("dropout_amount")
    if _is(dropout, NUMBER) and not 0 <= dropout < 1:
        problems.add("network_args.dropout_amount", f"must be in [0, 1), got {dropout}")
    for key, low in (("width", 1), ("head_units", 0)):
        if _is(network_args.get(key), int) and network_args[key] < low:
            problems.add(f"network_args.{key}", f"must be >= {low}, got {network_args[key]}")
    activation = network_args.get("activation")
    if isinstance(activation, str) and activation not in ACTIVATIONS:
        problems.add("network_args.activation", f"unknown activation {activation!r} (one of: {', '.join(ACTIVATIONS)})")


def validate_config(raw: Any) -> TrainConfig:
    """Check a config dict; raise InvalidConfig listing every bad or missing field, else return a TrainConfig."""
    if not isinstance(raw, dict):
        raise InvalidConfig(f"config must be a JSON object, got {type(raw).__name__}")
    problems = _Problems()
    for key in ("dataset", "model", "network", "train_args"):
        if key not in raw:
            problems.add(key, "is required")
    for key in raw:
        if key not in TOP_LEVEL:
            problems.add(key, f"unknown field (accepted: {', '.join(TOP_LEVEL)})")
    dataset, model, network = raw.get("dataset"), raw.get("model"), raw.get("network")
    if "dataset" in raw and dataset not in DATASET_ARGS:
        problems.add("dataset", f"unknown dataset {dataset!r} (one of: {', '.join(DATASET_ARGS)})")
    if "model" in raw and model not in MODELS:
        problems.add("model", f"unknown model {model!r} (one of: {', '.join(MODELS)})")
    if "network" in raw and network not in NETWORK_NAMES:
        problems.add("network", f"unknown network {network!r} (one of: {', '.join(NETWORK_NAMES)})")
    if dataset in DATASET_ARGS:
        _check_args(problems, "dataset_args", raw.get("dataset_args", {}), DATASET_ARGS[dataset])
    elif "dataset_args" in raw and not isinstance(raw["dataset_args"], dict):
        problems.add("dataset_args", "must be an object")
    if network in NETWORK_NAMES:
        spec = {key: (expected, False) for key, expected in NETWORK_ARGS[network].items()}
        _check_args(problems, "network_args", raw.get("network_args", {}), spec)
    if "train_args" in raw:
        _check_args(problems, "train_args", raw["train_args"], TRAIN_ARGS)
    for key, expected in (("save_weights", bool), ("filename", str), ("version", str), ("reference", str),
                          ("test_time_flip", bool)):
        if key in raw and not _is(raw[key], expected):
            problems.add(key, f"must be {_type_name(expected)}, got {raw[key]!r}")
    if "promote" in raw and raw["promote"] not in PROMOTE_POLICIES:
        problems.add("promote", f"must be one of {', '.join(PROMOTE_POLICIES)}, got {raw['promote']!r}")
    _check_values(problems, raw)
    if problems.items:
        raise InvalidConfig("invalid training config: " + "; ".join(problems.items))
    return TrainConfig(dataset=dataset, dataset_args=dict(raw.get("dataset_args", {})), model=model,
                       network=network, network_args=dict(raw.get("network_args", {})),
                       train_args=dict(raw["train_args"]), save_weights=raw.get("save_weights", True),
                       filename=raw.get("filename"), version=raw.get("version"),
                       reference=raw.get("reference"), test_time_flip=raw.get("test_time_flip", False),
                       promote=raw.get("promote", "if_better"))
