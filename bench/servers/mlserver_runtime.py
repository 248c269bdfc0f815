"""MLServer peer: a custom runtime for the KServe v2 JSON protocol, with MLServer's adaptive batching.

Input ``image`` (BYTES, base64 as the JSON protocol carries bytes), outputs ``label`` and ``probability``.
``python -m bench.servers.mlserver_runtime --out DIR`` writes the settings folder ``mlserver start DIR`` serves.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from mlserver import MLModel
from mlserver.codecs import Base64Codec, NumpyCodec, StringCodec
from mlserver.types import InferenceRequest, InferenceResponse

from bench.servers.common import classify_many, load_model


class ImageClassifier(MLModel):
    """Decode + preprocess each image of the (adaptively batched) request, one LiteRT call for the batch."""

    async def load(self) -> bool:
        self._model = load_model(self.settings.name)
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        images = Base64Codec.decode_input(payload.inputs[0])
        answers = classify_many(self._model, images)
        return InferenceResponse(
            model_name=self.name,
            outputs=[
                StringCodec.encode_output("label", [label for label, _ in answers]),
                NumpyCodec.encode_output("probability", np.array([p for _, p in answers], dtype=np.float32)),
            ],
        )


def write_settings(out: Path, port: int, grpc_port: int, metrics_port: int, workers: int, max_batch: int,
                   max_batch_time: float) -> None:
    """The server settings and one model-settings.json per model."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "settings.json").write_text(json.dumps({
        "host": "127.0.0.1", "http_port": port, "grpc_port": grpc_port, "metrics_port": metrics_port,
        "parallel_workers": workers, "debug": False, "metrics_endpoint": None}))
    for name in ("mnist", "flowers"):
        folder = out / name
        folder.mkdir(exist_ok=True)
        (folder / "model-settings.json").write_text(json.dumps({
            "name": name, "implementation": "bench.servers.mlserver_runtime.ImageClassifier",
            "max_batch_size": max_batch, "max_batch_time": max_batch_time}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2, help="MLServer parallel inference workers")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-batch-time", type=float, default=0.001, help="seconds")
    args = parser.parse_args(argv)
    write_settings(args.out, args.port, args.grpc_port, args.metrics_port, args.workers, args.max_batch,
                   args.max_batch_time)


if __name__ == "__main__":
    main()
