"""PyTriton peer: Triton Inference Server with dynamic batching, KServe v2 HTTP (binary tensor extension).

Input ``image`` (BYTES, one encoded image per request), outputs ``label`` (BYTES) and ``probability`` (FP32).
Two model instances (two Python callables) so both cores can decode while Triton batches.

    BENCH_MODELS_DIR=... python -m bench.servers.pytriton_server --port 8000
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np


def _make_infer(model):
    from pytriton.decorators import batch

    from bench.servers.common import classify_many

    @batch
    def infer(image: np.ndarray) -> dict[str, np.ndarray]:
        answers = classify_many(model, [bytes(row[0]) for row in image])
        return {
            "label": np.array([[label.encode()] for label, _ in answers], dtype=object),
            "probability": np.array([[prob] for _, prob in answers], dtype=np.float32),
        }

    return infer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="HTTP port")
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--instances", type=int, default=2, help="model instances (Python callables) per model")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-delay-us", type=int, default=1000, help="dynamic batcher max queue delay")
    parser.add_argument("--workspace", type=Path, required=True, help="must not exist yet")
    args = parser.parse_args(argv)
    # Triton's server stub links against the running Python's libpython.
    lib = str(Path(sys.base_prefix) / "lib")
    if lib not in os.environ.get("LD_LIBRARY_PATH", ""):
        os.environ["LD_LIBRARY_PATH"] = lib + os.pathsep + os.environ.get("LD_LIBRARY_PATH", "")
        os.execv(sys.executable, [sys.executable, "-m", "bench.servers.pytriton_server", *sys.argv[1:]])

    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
    from pytriton.triton import Triton, TritonConfig

    from bench.servers.common import load_model

    config = TritonConfig(http_address="127.0.0.1", http_port=args.port, grpc_address="127.0.0.1",
                          grpc_port=args.grpc_port, metrics_port=args.metrics_port, log_verbose=0)
    with Triton(config=config, workspace=str(args.workspace)) as triton:
        for name in ("mnist", "flowers"):
            triton.bind(
                model_name=name,
                infer_func=[_make_infer(load_model(name)) for _ in range(args.instances)],
                inputs=[Tensor(name="image", dtype=bytes, shape=(1,))],
                outputs=[Tensor(name="label", dtype=bytes, shape=(1,)),
                         Tensor(name="probability", dtype=np.float32, shape=(1,))],
                config=ModelConfig(max_batch_size=args.max_batch,
                                   batcher=DynamicBatcher(max_queue_delay_microseconds=args.max_delay_us)),
                strict=False,
            )
        triton.serve()


if __name__ == "__main__":
    main()
