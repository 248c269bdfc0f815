"""Does batching make LiteRT cheaper per image on this CPU? Measures one interpreter at batch sizes 1..N.

Why it exists: a micro-batcher (``service/inference/batching.py``) only pays if a batch of N costs clearly
less than N single calls; this prints the CPU time per image for each batch size so the decision is measured.

    .venv/bin/python -m bench.batch_cost --models-dir bench/.work/standin-models
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from service.inference import Manifest
from service.inference.registry import discover


def per_image_us(model_path: Path, shape: tuple[int, ...], batch: int, seconds: float) -> float:
    """Best-of-5 CPU microseconds per image for ``batch`` images per invoke (one LiteRT thread)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_path), num_threads=1)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, (batch, *shape), strict=False)
    interpreter.allocate_tensors()
    x = np.random.default_rng(0).random((batch, *shape), dtype=np.float32)
    interpreter.set_tensor(index, x)
    interpreter.invoke()
    start = time.process_time()
    interpreter.invoke()
    reps = max(3, int(seconds / 5 / max(time.process_time() - start, 1e-5)))
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(reps):
            interpreter.set_tensor(index, x)
            interpreter.invoke()
        best = min(best, (time.process_time() - start) / reps)
    return best / batch * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=Path(__file__).resolve().parent.parent / "models")
    parser.add_argument("--batches", default="1,2,4,8,16")
    parser.add_argument("--seconds", type=float, default=1.0, help="measuring time per batch size")
    args = parser.parse_args(argv)
    for name, directory in discover(args.models_dir).items():
        manifest = Manifest.load(directory)
        path = directory / manifest.files["tflite"]
        batches = [int(b) for b in args.batches.split(",")]
        costs = {b: per_image_us(path, manifest.input_shape, b, args.seconds) for b in batches}
        single = costs[min(costs)]
        print(f"{name}: " + ", ".join(f"batch {b}: {us:,.0f} us/image ({us / single:.2f}x)" for b, us in costs.items()))


if __name__ == "__main__":
    main()
