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


def model_directory(config: TrainConfig) -> Path:
    """The model's folder, whose numbered sub-folders are its versions."""
    return Path(config.filename) if config.filename else REPO / "models" / config.name


RECALIBRATION_IMAGES = 8192
EMA_MIN_HORIZONS = 5  # an average over fewer steps than 5 / (1 - momentum) still remembers the initial weights


def ema_applies(momentum: float, total_steps: int) -> bool:
    """Whether an exponential moving average of the weights is worth shipping for a run this long.

    Keras' average starts at the initial weights and is not bias-corrected: after ``n`` steps they still weigh
    ``momentum ** n``. On a short run (one epoch of a small data set at 0.995) that is most of the average, and the
    exported network is close to its random start. Below EMA_MIN_HORIZONS time constants the raw weights ship.
    """
    if momentum <= 0:
        return False
    if total_steps * (1 - momentum) < EMA_MIN_HORIZONS:
        log.warning("ema_momentum %.4g ignored: %d steps are fewer than %d / (1 - momentum); shipping the raw "
                    "weights", momentum, total_steps, EMA_MIN_HORIZONS)
        return False
    return True


def recalibrate_batch_norm(model: Any, x_train: Any, seed: int, batch_size: int = 256) -> bool:
    """Re-estimate every batch-norm layer's moving mean and variance with the final weights (an exact average over
    up to RECALIBRATION_IMAGES training images); False when the network has none.

    Why: the moving statistics trail the weights. After a one-epoch digit run they described a network that no
    longer existed, and the exported model scored 35% on the test set while the same weights with batch statistics
    scored 97%. The training images pass through the network in training mode (as during fit), without gradients.
    """
    import keras
    import numpy as np

    layers = [layer for layer in model._flatten_layers(include_self=False)
              if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers:
        return False
    order = np.random.default_rng(seed).permutation(len(x_train))[:RECALIBRATION_IMAGES]
    momenta = [layer.momentum for layer in layers]
    try:
        for k, start in enumerate(range(0, len(order), batch_size), start=1):
            for layer in layers:
                layer.momentum = (k - 1) / k  # a running mean of the batch statistics, not an exponential one
            model(np.asarray(x_train[np.sort(order[start:start + batch_size])], dtype="float32"), training=True)
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
    return True


def train(config: TrainConfig, *, on_epoch: Callable[[dict[str, Any]], None] | None = None,
          progress: bool | None = None, measure_tflite: bool = False, directory: Path | None = None,
          callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Train and (if ``save_weights``) export into ``directory`` (a staging folder that ``training.release``
    publishes as a version); ``measure_tflite`` measures the TFLite variants even when nothing is saved (the
    held-out half of a final-mode run); ``callbacks`` are extra Keras callbacks (progress reports)."""
    import keras
    import numpy as np

    from training.augment import cutmix_some, one_hot_labels
    from training.callbacks import EpochHistory, TqdmProgress
    from training.losses import EnergyMarginCrossEntropy
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
    use_ema = ema_applies(config.ema_momentum, steps * config.epochs)
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay,
                                       use_ema=use_ema, ema_momentum=config.ema_momentum or 0.99)
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
        if config.energy_margins and has_non_digits:
            loss = EnergyMarginCrossEntropy(*config.energy_margins, weight=config.energy_weight,
                                            label_smoothing=config.label_smoothing)
        else:
            loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=config.label_smoothing)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    history = EpochHistory(on_epoch)
    start = time.perf_counter()
    model.fit(train_data, epochs=config.epochs, validation_data=(x_eval, y_eval),
              validation_batch_size=256, callbacks=[history, TqdmProgress(progress), *(callbacks or [])], verbose=0)
    train_seconds = time.perf_counter() - start
    if data.x_train is not None and recalibrate_batch_norm(model, data.x_train, config.seed):
        log.info("batch-norm statistics re-estimated on %s training images with the final weights",
                 min(len(data.x_train), RECALIBRATION_IMAGES))
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
    if directory is None:
        raise ValueError("save_weights needs a directory to export into (see training.release)")
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
                                                       if use_ema else "")
                + (f", CutMix on {config.cutmix:.0%} of the batches" if config.cutmix else ""),
                "eval_set": data.eval_name}
    manifest = export(shipped, directory, name=config.name, version=config.version or "0", task=config.task,
                      labels=data.labels, input_shape=data.input_shape, input_range=data.input_range,
                      preprocessing=data.preprocessing, x_eval=data.x_eval, y_eval=data.y_eval,
                      eval_name=data.eval_name, metrics=metrics, training=training, data=data.info,
                      history=history.epochs, held_out=data.held_out)
    result["directory"] = str(directory)
    result["metrics"] = manifest["metrics"]
    return result
