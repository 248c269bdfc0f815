"""What every benchmarked server shares: the same model loading, decode and preprocessing as the service.

Peers import the service's own ``Model`` (manifest -> LiteRT interpreter, ``prepare`` = decode once + preprocess
once), so every server does exactly the same work per image and only the request path differs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from service.inference import Manifest, Model
from service.inference.registry import discover

MAX_PIXELS = 40_000_000


def models_dir() -> Path:
    """The models folder the benchmark chose (``BENCH_MODELS_DIR``), by default the repository's ``models/``."""
    return Path(os.environ.get("BENCH_MODELS_DIR", Path(__file__).resolve().parents[2] / "models"))


def load_model(name: str, num_threads: int = 1) -> Model:
    """Load the newest version of ``name`` through LiteRT, as the service does."""
    found = discover(models_dir(), (name,))
    if name not in found:
        raise SystemExit(f"no model {name!r} under {models_dir()}")
    return Model.load(Manifest.load(found[name]), num_threads)


def classify_many(model: Model, images: list[bytes]) -> list[tuple[str, float]]:
    """Decode and preprocess each image, run them as one batch; (label, probability) per image."""
    batch = np.stack([model.prepare(data, MAX_PIXELS) for data in images])
    return [(p.label, p.probability) for p in model.classify(list(batch))]
