"""One training run from a validated config: load data, build, fit, evaluate, export.

Returns the summary the API reports (``{"status": "success", "train": {...}, "test": {...}}``) plus where the
model went. Usable from the CLI and, later, the API (``on_epoch`` reports progress).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from training.config import TrainConfig

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent


def output_directory(config: TrainConfig) -> Path:
    base = Path(config.filename) if config.filename else REPO / "models" / config.name
    return base / config.version


def train(config: TrainConfig, *, on_epoch: Callable[[dict[str, Any]], None] | None = None,
          progress: bool | None = None, measure_tflite: bool = False) -> dict[str, Any]:
    """Train and (if ``save_weights``) export to ``<filename>/<version>/``; ``measure_tflite`` measures the TFLite
    variants even when nothing is saved (the held-out half of a final-mode run)."""
    import keras
    import numpy as np

    from training.augment import cutmix_some, one_hot_labels
    from training.callbacks import EpochHistory, TqdmProgress
    from training.datasets import DATASETS
    from training.export import export, measure_variants, reference_figures
    from training.networks import build, with_test_time_flip

    train_only: dict[str, Any] | None = None
    if config.dataset_args.get("final"):
        # The held-out figure first: the same recipe trained on train/ only, measured on eval/.
        log.info("final mode: training on train/ only first, to measure eval/ while it is still unseen")
        held_out = train(replace(config, dataset_args={**config.dataset_args, "final": False}, save_weights=False),
                         progress=progress, measure_tflite=True)
        train_only = {"eval_accuracy": round(100 * held_out["test"]["accuracy"], 2),
                      "eval_loss": round(held_out["test"]["loss"], 4), "runtime": "keras",
                      "tflite": held_out["tflite"], "train_seconds": held_out["train_seconds"],
                      "history": held_out["history"]}
    keras.utils.set_random_seed(config.seed)
    dataset_args = dict(config.dataset_args)
    data = DATASETS[config.dataset](**dataset_args)
    log.info("%s: %d training images, %d %s images, input %s", config.dataset, data.train_count,
             len(data.y_eval), data.eval_name, list(data.input_shape))

    model = build(config.network, data.input_shape, len(data.labels), **config.network_args)
    log.info("network %s: %d parameters", config.network, model.count_params())
    if config.train_args.get("initial_weights"):  # a second stage continues from an exported model
        start_from = Path(config.train_args["initial_weights"])
        model.set_weights(keras.models.load_model(start_from, compile=False).get_weights())
        log.info("starting from the weights of %s", start_from)
    steps = math.ceil(data.train_count / config.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=steps * config.epochs,
                                                      alpha=0.01)
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay,
                                       use_ema=config.ema_momentum > 0, ema_momentum=config.ema_momentum or 0.99)
    train_data = data.train_dataset(config.batch_size, config.seed)
    x_eval, y_eval = data.x_eval.astype("float32"), data.y_eval
    has_non_digits = data.y_train is not None and bool((data.y_train < 0).any())
    if config.cutmix or config.label_smoothing or has_non_digits:
        # Soft labels: one-hot labels and Keras' own cross-entropy with label_smoothing ("accuracy" = argmax match).
        train_data = one_hot_labels(train_data, len(data.labels))
        if config.cutmix:
            train_data = cutmix_some(train_data, config.cutmix, config.seed)
        train_data = train_data.prefetch(2)
        y_eval = np.eye(len(data.labels), dtype="float32")[data.y_eval]
        loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=config.label_smoothing)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    history = EpochHistory(on_epoch)
    start = time.perf_counter()
    model.fit(train_data, epochs=config.epochs, validation_data=(x_eval, y_eval),
              validation_batch_size=256, callbacks=[history, TqdmProgress(progress)], verbose=0)
    train_seconds = time.perf_counter() - start
    last = history.epochs[-1]
    eval_loss, eval_acc = model.evaluate(x_eval, y_eval, batch_size=256, verbose=0)
    result: dict[str, Any] = {
        "status": "success",
        "train": {"accuracy": last["accuracy"], "loss": last["loss"]},
        "test": {"accuracy": float(eval_acc), "loss": float(eval_loss)},
        "eval_name": data.eval_name,
        "train_seconds": round(train_seconds, 1),
    }
    if not config.save_weights:
        result["history"] = history.epochs
        if measure_tflite:
            converted, accuracies = measure_variants(model, data.x_eval, data.y_eval)
            result["tflite"] = {v: {f"{data.eval_name}_accuracy": accuracies[v], "bytes": len(converted[v])}
                                for v in converted}
        return result
    directory = output_directory(config)
    # Export a fresh copy of the network: same weights, no optimizer state in model.keras.
    shipped = build(config.network, data.input_shape, len(data.labels), **config.network_args)
    shipped.set_weights(model.get_weights())
    metrics = {"train_accuracy_last_epoch": 100 * last["accuracy"],
               "train_seconds": round(train_seconds, 1),
               "epoch_seconds_mean": round(sum(e["seconds"] for e in history.epochs) / len(history.epochs), 1)}
    if config.test_time_flip:
        metrics["without_test_time_flip"] = {f"{data.eval_name}_accuracy": 100 * float(eval_acc), "runtime": "keras"}
        shipped = with_test_time_flip(shipped)
    if train_only is not None:
        metrics["train_only"] = train_only
        result["train_only"] = {k: v for k, v in train_only.items() if k != "history"}
    if config.reference:
        reference = Path(config.reference)
        if reference.is_file():
            key, metrics[key] = reference_figures(reference, data.info)
        else:
            log.warning("reference run %s not found: train it first (its config names it as filename); "
                        "the manifest will have no reference figures", reference)
    training = {"config": config.to_dict(), "epochs_run": len(history.epochs), "seed": config.seed,
                "optimizer": "AdamW + cosine decay" + (f", EMA {config.ema_momentum} of the weights shipped"
                                                       if config.ema_momentum else "")
                + (f", CutMix on {config.cutmix:.0%} of the batches" if config.cutmix else ""),
                "eval_set": data.eval_name}
    manifest = export(shipped, directory, name=config.name, version=config.version, task=config.task,
                      labels=data.labels, input_shape=data.input_shape, input_range=data.input_range,
                      preprocessing=data.preprocessing, x_eval=data.x_eval, y_eval=data.y_eval,
                      eval_name=data.eval_name, metrics=metrics, training=training, data=data.info,
                      history=history.epochs, held_out=data.held_out)
    result["directory"] = str(directory)
    result["metrics"] = manifest["metrics"]
    return result
