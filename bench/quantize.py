"""Would an int8 (dynamic-range) or fp16 TFLite variant serve faster with the same answers? Measured, not assumed.

For each model with a ``.keras`` file: convert to float32, float16 and dynamic-range int8 TFLite (into
``bench/.work/variants/``, never into ``models/``), then on ``<repo>/../shared/data`` compare accuracy and the
share of answers equal to the float model's, and the LiteRT CPU time per image. The service keeps serving the
manifest's ``tflite`` file; a variant is worth shipping only where its accuracy holds.

    .venv/bin/python -m bench.quantize --models-dir models --flowers-limit 600
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from service.inference import Manifest
from service.inference.registry import discover
from service.preprocessing import decode_image, to_rgb_input

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"


def convert(keras_path: Path, out: Path) -> dict[str, Path]:
    """float32, float16 and int8 (dynamic range) TFLite files of one Keras model, converted by the trainer's own
    ``training.export.tflite_bytes``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from training.export import VARIANTS, tflite_bytes

    model = keras.models.load_model(keras_path, compile=False)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for kind in VARIANTS:
        files[kind] = out / f"model-{kind}.tflite"
        files[kind].write_bytes(tflite_bytes(model, kind))
    return files


def evaluation_set(manifest: Manifest, flowers_limit: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(inputs, label indices) from the shared data: MNIST's test set, or flower photos through the service's
    own decode and preprocessing (every n-th photo per class, up to ``flowers_limit`` in all)."""
    if manifest.preprocessing == "mnist":
        npz = DATA / "mnist" / "mnist.npz"
        if not npz.is_file():
            return None
        with np.load(npz) as data:
            return (data["x_test"].astype(np.float32) / 255.0)[..., None], data["y_test"].astype(np.int64)
    from training.datasets import list_images

    root = DATA / manifest.name
    if (root / "eval").is_dir():  # mugs: train/ and eval/ class folders; the eval photos
        root = root / "eval"
    if not root.is_dir():
        return None
    labels, files, targets = list_images(root)  # the trainer's own class order (a leading "0" index dropped)
    per_class = max(1, flowers_limit // len(labels))
    xs, ys = [], []
    for index in range(len(labels)):
        photos = [path for path, target in zip(files, targets, strict=True) if target == index]
        for path in photos[:: max(1, len(photos) // per_class)][:per_class]:
            image = decode_image(path.read_bytes(), min_side=min(manifest.image_size))
            xs.append(to_rgb_input(image, manifest.image_size))
            ys.append(index)
    return np.stack(xs), np.array(ys)


def predict_all(path: Path, inputs: np.ndarray) -> tuple[np.ndarray, float]:
    """Class index per input, and CPU microseconds per image (batch of one, one LiteRT thread)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    answers = np.empty(len(inputs), np.int64)
    start = time.process_time()
    for i, x in enumerate(inputs):
        interpreter.set_tensor(inp, x[None].astype(np.float32))
        interpreter.invoke()
        answers[i] = int(np.argmax(interpreter.get_tensor(out)[0]))
    return answers, (time.process_time() - start) / len(inputs) * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--flowers-limit", type=int, default=600, help="photos evaluated per photo model")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / ".work" / "variants")
    args = parser.parse_args(argv)
    for name, directory in discover(args.models_dir).items():
        manifest = Manifest.load(directory)
        if "keras" not in manifest.files:
            continue
        data = evaluation_set(manifest, args.flowers_limit)
        if data is None:
            print(f"{name}: no evaluation data under {DATA}; skipped")
            continue
        inputs, labels = data
        files = convert(directory / manifest.files["keras"], args.out / name)
        reference, _ = predict_all(files["float32"], inputs)
        for kind, path in files.items():
            answers, us = predict_all(path, inputs)
            print(f"{name} {kind:>7}: {path.stat().st_size / 1e6:6.2f} MB, accuracy {np.mean(answers == labels):.4f} "
                  f"on {len(labels)} images, same answer as float32 {np.mean(answers == reference):.4f}, "
                  f"{us:,.0f} us CPU per image")


if __name__ == "__main__":
    main()
