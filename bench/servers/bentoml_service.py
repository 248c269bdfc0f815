"""BentoML peer: one service with two batchable APIs (adaptive batching), images uploaded as multipart files.

    cd <repo> && BENCH_MODELS_DIR=... bentoml serve bench.servers.bentoml_service:Classifier --port 8000
"""

from __future__ import annotations

import os
from pathlib import Path

import bentoml

from bench.servers.common import classify_many, load_model

WORKERS = int(os.environ.get("BENCH_BENTOML_WORKERS", "2"))
MAX_BATCH = int(os.environ.get("BENCH_MAX_BATCH", "32"))
MAX_LATENCY_MS = int(os.environ.get("BENCH_BENTOML_MAX_LATENCY_MS", "1000"))


@bentoml.service(workers=WORKERS)
class Classifier:
    """Loads both models once per worker; each API decodes and classifies its adaptive batch in one LiteRT call."""

    def __init__(self) -> None:
        self.models = {name: load_model(name) for name in ("mnist", "flowers")}

    def _answer(self, name: str, images: list[Path]) -> list[dict]:
        answers = classify_many(self.models[name], [path.read_bytes() for path in images])
        return [{"label": label, "probability": prob} for label, prob in answers]

    @bentoml.api(batchable=True, max_batch_size=MAX_BATCH, max_latency_ms=MAX_LATENCY_MS)
    def mnist(self, image: list[Path]) -> list[dict]:
        return self._answer("mnist", image)

    @bentoml.api(batchable=True, max_batch_size=MAX_BATCH, max_latency_ms=MAX_LATENCY_MS)
    def flowers(self, image: list[Path]) -> list[dict]:
        return self._answer("flowers", image)
