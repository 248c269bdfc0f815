"""``python -m training``: train from a JSON config, or with the digit briefs' flags; convert MNIST to TFRecords.

    python -m training --config configs/flowers.json
    python -m training --filename models/mnist --epoch 15 --batchsize 128 [--data mnist.npz | --tfrecords DIR]
    python -m training tfrecords --data mnist.npz --out DIR [--shards 4]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from service.errors import InvalidConfig
from training.config import validate_config


def flag_config(args: argparse.Namespace) -> dict[str, Any]:
    """The digit briefs' flag form, expressed as the one config schema."""
    dataset_args: dict[str, Any] = {"image_size": [28, 28, 1]}
    if args.data:
        dataset_args["path"] = args.data
    if args.tfrecords:
        dataset_args["tfrecords_dir"] = args.tfrecords
    if args.limit:
        dataset_args["limit"] = args.limit
    return {
        "dataset": "MnistDataset", "dataset_args": dataset_args, "model": "DigitModel", "network": args.network,
        "network_args": {}, "train_args": {"batch_size": args.batchsize, "epochs": args.epoch,
                                           "learning_rate": args.learning_rate, "seed": args.seed},
        "save_weights": True, "filename": args.filename, **({"version": args.version} if args.version else {}),
    }


def train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="JSON training config (same schema as POST /api/v1/train)")
    parser.add_argument("--filename", help="export folder, e.g. models/mnist (the version folder goes inside)")
    parser.add_argument("--epoch", type=int, help="epochs (flag form; default 15)")
    parser.add_argument("--batchsize", type=int, help="batch size (flag form; default 128)")
    parser.add_argument("--data", help="mnist.npz (default ../shared/data/mnist/mnist.npz, else the Keras download)")
    parser.add_argument("--tfrecords", help="train from TFRecord shards in this folder instead of the npz")
    parser.add_argument("--network", default="cnn", help="digit network for the flag form (default cnn)")
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, help="use only this many training images (smoke runs)")
    parser.add_argument("--version", help="publish as this version number (default: the next one); an existing "
                                          "version is only replaced with --force")
    parser.add_argument("--force", action="store_true", help="with --version: replace that version if it exists")
    parser.add_argument("--final", action="store_true", help="TrainEvalFolderDataset: train on train/ + eval/")
    parser.add_argument("--quiet", action="store_true", help="only warnings on stderr")
    return parser


def tfrecords_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training tfrecords",
                                     description="Convert mnist.npz to sharded TFRecord files.")
    parser.add_argument("--data", type=Path, help="mnist.npz (default ../shared/data/mnist/mnist.npz)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--shards", type=int, default=4, help="training shards (default 4)")
    parser.add_argument("--test-shards", type=int, default=1, help="test shards (default 1)")
    return parser


def load_config(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    if args.config is None:
        if not args.filename:
            parser.error("give --config FILE.json, or the flag form --filename DIR --epoch N --batchsize B")
        args.epoch = 15 if args.epoch is None else args.epoch
        args.batchsize = 128 if args.batchsize is None else args.batchsize
        return flag_config(args)
    try:
        raw = json.loads(args.config.read_text())
    except OSError as exc:
        parser.error(f"cannot read {args.config}: {exc.strerror}")
    except ValueError as exc:
        parser.error(f"{args.config} is not valid JSON: {exc}")
    if isinstance(raw, dict):  # flags given beside --config override it
        if args.filename:
            raw["filename"] = args.filename
        if args.version:
            raw["version"] = args.version
        if isinstance(raw.get("train_args"), dict):
            if args.epoch is not None:
                raw["train_args"]["epochs"] = args.epoch
            if args.batchsize is not None:
                raw["train_args"]["batch_size"] = args.batchsize
        if args.final and isinstance(raw.get("dataset_args"), dict):
            raw["dataset_args"]["final"] = True
        if args.limit and isinstance(raw.get("dataset_args"), dict):
            raw["dataset_args"]["limit"] = args.limit
    return raw


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if argv[:1] == ["tfrecords"]:
        args = tfrecords_parser().parse_args(argv[1:])
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
        from training.datasets import DEFAULT_MNIST
        from training.tfrecords import convert_mnist

        written = convert_mnist(args.data or DEFAULT_MNIST, args.out, args.shards, args.test_shards)
        print(json.dumps({split: [str(p) for p in paths] for split, paths in written.items()}))
        return 0
    parser = train_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    raw = load_config(args, parser)
    try:
        config = validate_config(raw)
    except InvalidConfig as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    from training.release import train_and_release
    from training.run import model_directory

    model_dir = model_directory(config)
    if config.save_weights and config.version and (model_dir / config.version).exists() and not args.force:
        print(f"error: {model_dir / config.version} already exists; versions are never overwritten: leave out "
              "--version (and the config's \"version\") to publish the next one, or add --force", file=sys.stderr)
        return 2
    from service.config import Settings

    result = train_and_release(config, model_dir, keep_versions=Settings.from_env().keep_versions, force=args.force)
    print(json.dumps(result))
    return 0
