"""A/B of the micro-batcher in one process: 4 threads (a gthread worker's) classify the same image, with and
without ``MicroBatcher``, alternating; prints CPU per request, requests/s and the batch sizes that formed.

    .venv/bin/python -m bench.batching_ab --models-dir bench/.work/models-used --model flowers
"""

from __future__ import annotations

import argparse
import collections
import threading
import time
from pathlib import Path

import numpy as np

from bench.payloads import write_payloads
from service.inference import Manifest, Model
from service.inference.batching import MicroBatcher
from service.inference.registry import discover


def measure(classify, threads: int, per_thread: int) -> tuple[float, float]:
    """(CPU ms per request, requests/s) for ``threads`` threads each classifying ``per_thread`` times."""
    def work() -> None:
        for _ in range(per_thread):
            classify()

    pool = [threading.Thread(target=work) for _ in range(threads)]
    cpu, wall = time.process_time(), time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    n = threads * per_thread
    return (time.process_time() - cpu) / n * 1e3, n / (time.perf_counter() - wall)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=Path(__file__).resolve().parent.parent / "models")
    parser.add_argument("--model", default="flowers")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--requests", type=int, default=160, help="per measurement, over all threads")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    manifest = Manifest.load(discover(args.models_dir, (args.model,))[args.model])
    model = Model.load(manifest)
    payloads = write_payloads(Path(__file__).resolve().parent / ".work" / "payloads")
    data = payloads["digit" if manifest.preprocessing == "mnist" else "flower"].read_bytes()
    sizes: collections.Counter[int] = collections.Counter()

    def counted(batch: np.ndarray) -> np.ndarray:
        sizes[len(batch)] += 1
        return model.predict(batch)

    batcher = MicroBatcher(counted)
    variants = {
        "one call per request": lambda: model.classify([model.prepare(data, 40_000_000)])[0],
        "micro-batched": lambda: model.to_prediction(batcher(model.prepare(data, 40_000_000))),
    }
    for _ in range(args.rounds):
        for name, classify in variants.items():
            cpu_ms, rps = measure(classify, args.threads, args.requests // args.threads)
            print(f"{args.model} {name:>21}: {cpu_ms:.3f} ms CPU per request, {rps:,.0f} requests/s")
    print(f"batch sizes formed: {dict(sorted(sizes.items()))}")


if __name__ == "__main__":
    main()
