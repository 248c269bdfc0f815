"""How a served digit model's not-a-digit gate does on renders of a seed it was not trained on:
``python -m training.synth.gate_check``.

    python -m training.synth.gate_check --seed 7 --digits 3000 --negatives 3000 [--models models] [--workers 2]

Renders held-out digits (from MNIST's training indices 55,000-59,999, as the held-in set) and non-digits with the
seed, passes them through the service's preprocessing and the model's own gate (``service.inference.gate``: the
checks on the figure, then the energy threshold from the manifest), and prints one JSON object: the share of
non-digits refused, overall and per kind, and of digits refused and read right. Figures measured at export sit in
the manifest; this measures the service as it is now, preprocessing and checks included, on material the export
never saw.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from training.synth import cache

REPO = Path(__file__).resolve().parents[2]


def rates(refused: np.ndarray, right: np.ndarray, y: np.ndarray, kind: np.ndarray) -> dict[str, object]:
    """Percentages of refused non-digits (overall and per kind) and of refused and accepted-read-right digits."""
    negative = y < 0

    def percent(mask: np.ndarray) -> float:
        return round(100 * float(mask.mean()), 2) if mask.size else 0.0

    return {
        "non_digits": int(negative.sum()),
        "non_digits_refused_percent": percent(refused[negative]),
        "non_digits_refused_percent_by_kind": {str(k): percent(refused[negative & (kind == k)])
                                               for k in np.unique(kind[negative])},
        "digits": int((~negative).sum()),
        "digits_refused_percent": percent(refused[~negative]),
        "digits_read_right_and_accepted_percent": percent((right & ~refused)[~negative]),
    }


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.synth.gate_check", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=7, help="render seed (default 7; the training caches use 0)")
    p.add_argument("--digits", type=int, default=3000, help="rendered digits (default 3000)")
    p.add_argument("--negatives", type=int, default=3000, help="rendered non-digits (default 3000)")
    p.add_argument("--models", type=Path, default=REPO / "models", help="folder of <name>/<version>/ (default models/)")
    p.add_argument("--model", default="mnist", help="the digit model's name (default mnist); its default version")
    p.add_argument("--workers", type=int, default=2, help="render processes (default 2)")
    p.add_argument("--photos-root", type=Path, default=cache.SHARED_DATA,
                   help="folder holding mnist/, flowers/ and mugs/ (default ../shared/data beside the repository)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    mnist = args.photos_root / "mnist" / "mnist.npz"
    if not mnist.is_file():
        print(f"error: {mnist} not found (pass --photos-root)", file=sys.stderr)
        return 2
    from service.inference import ModelRegistry

    model = ModelRegistry.from_directory(args.models, (args.model,)).get(args.model)
    if model.gate is None:
        print(f"error: {args.model} has no not-a-digit gate in its manifest", file=sys.stderr)
        return 2
    todo = cache.tasks(args.seed, "holdout", args.digits, args.negatives)
    arrays = cache.build(todo, args.workers, mnist, cache.photo_paths(args.photos_root))
    x = (arrays["x"].astype(np.float32) / 255)[..., None]
    logits = np.concatenate([model.outputs(x[i:i + 256]) for i in range(0, len(x), 256)])
    refused = ~np.array([model.gate.accepts(image, row) for image, row in zip(x, logits)], dtype=bool)
    right = logits.argmax(axis=1) == arrays["y"]
    report = {"model": args.model, "version": model.manifest.version, "seed": args.seed,
              **rates(refused, right, arrays["y"], arrays["kind"])}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
