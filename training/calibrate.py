"""Fit a shipped photo model's calibration temperature on its held-out photos and record it in its manifest.

    python -m training.calibrate models/flowers/1        # the validation split the training run held out
    python -m training.calibrate models/mugs/1           # eval/ (see the note on final-mode models below)

The photos go through the service's own decode and preprocessing and the served TFLite file, so the fitted
temperature is the one that makes the service's scores calibrated. The shipped temperature is fitted on all the
held-out photos; the ECE before and after is measured by two-fold cross-fitting (fit on one half, measure on the
other, both ways), so the "after" figure is not measured on the photos it was fitted on.

A final-mode model (mugs) trained on eval/ too, so no photo is held out from it: ``--fit-with`` names the model
the same recipe trained on train/ only (``configs/mugs.json``), whose eval/ outputs fit the temperature and give
the figures; the final model, which saw more photos of the same kind, ships that temperature.

    python -m training --config configs/mugs.json --filename runs/mugs-train-only
    python -m training.calibrate models/mugs/1 --fit-with runs/mugs-train-only/1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from training.calibration import ECE_BINS, expected_calibration_error, fit_temperature, softmax


def held_out_files(manifest: dict, data_root: Path) -> tuple[list[Path], np.ndarray, str]:
    """The photos a run did not train on, their labels, and what they are."""
    from training.datasets import list_images, split_indices

    data = manifest["data"]
    if "split_seed" in data:
        _, files, targets = list_images(data_root)
        _, val = split_indices(len(files), data["validation_split"], data["split_seed"])
        return [files[i] for i in val], targets[val], f"the {len(val)} validation photos held out by the training run"
    _, files, targets = list_images(data_root / "eval")
    seen = " (the final model also trained on them)" if data.get("final") else ""
    return files, targets, f"the {len(files)} photos of eval/{seen}"


def raw_logits(model_dir: Path, files: list[Path]) -> np.ndarray:
    from service.inference import Manifest, Model

    model = Model.load(Manifest.load(model_dir))
    inputs = [model.prepare(f.read_bytes(), 50_000_000) for f in files]
    return np.concatenate([model.runtime.predict(np.stack(inputs[i:i + 64])) for i in range(0, len(inputs), 64)])


def cross_fitted_ece(logits: np.ndarray, labels: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """ECE (fractions) before and after temperature scaling, each half's temperature fitted on the other half."""
    order = np.random.default_rng(seed).permutation(len(labels))
    halves = order[: len(order) // 2], order[len(order) // 2:]
    after = np.empty((len(labels), logits.shape[1]))
    for fit, use in (halves, halves[::-1]):
        after[use] = softmax(logits[use], fit_temperature(logits[fit], labels[fit]))
    return expected_calibration_error(softmax(logits), labels), expected_calibration_error(after, labels)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path, help="models/<name>/<version>")
    parser.add_argument("--data", type=Path, help="the data set's folder (default: the manifest's data.source)")
    parser.add_argument("--fit-with", type=Path, metavar="MODEL_DIR",
                        help="fit on this model's outputs instead (the same recipe without the held-out photos)")
    args = parser.parse_args(argv)
    path = args.model_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    fitted = args.fit_with or args.model_dir
    fit_manifest = json.loads((fitted / "manifest.json").read_text())
    root = args.data or (Path(__file__).resolve().parent.parent / fit_manifest["data"]["source"]).resolve()
    files, labels, what = held_out_files(fit_manifest, root)
    if args.fit_with:
        what += f", with the outputs of {args.fit_with} (the same recipe trained without them)"
    logits = raw_logits(fitted, files)
    before, after = cross_fitted_ece(logits, labels)
    temperature = fit_temperature(logits, labels)
    manifest["calibration"] = {
        "method": "temperature", "temperature": round(temperature, 4), "fitted_on": what, "ece_bins": ECE_BINS,
        "ece_percent": {"held_out": {"before": round(100 * before, 3), "after": round(100 * after, 3),
                                     "count": int(len(labels)), "after_is": "two-fold cross-fitted"}},
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, path)
    print(json.dumps(manifest["calibration"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
