"""Choose a published digit model's not-a-digit threshold again and publish the result as the next version:
``python -m training.regate``.

    python -m training.regate models/mnist/7 --chosen-on non_digits --min-refused 0.98 [--promote]
    python -m training.regate models/mnist/7 --chosen-on rendered_read_right --max-refused 0.02

The weights stay as they are; only the gate's operating point and its measured rates change. The held-out set is
the one the version's own training recipe held out (the manifest's ``dataset_args.synthetic``), rendered again
through today's preprocessing, so the threshold and its rates describe the service as it now runs (checks added to
the preprocessing since the export change what reaches the network). Scores come from the served TFLite file, as
at export.

A version on disk is never changed: the new manifest goes with copies of the files into a staging folder, which
is published as the next version in one rename (``service.inference.versions``). Without ``--promote`` the
default version stays what it was, so publishing alone changes nothing that is served; running servers pick up a
promotion on their own.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from training.config import GATE_CHOSEN_ON

log = logging.getLogger(__name__)
COPIED = ("model.tflite", "model.keras", "history.json")


def held_out_set(manifest: dict[str, Any], rule: dict[str, Any], mnist: Path, photos_root: Path,
                 workers: int) -> tuple[Any, str, np.ndarray]:
    """(``HeldOut`` with ``rule``, its renders' cache name, MNIST test inputs): the set the version's own
    training recipe held out, built as training builds it."""
    from training.datasets import SYNTHETIC_DEFAULTS, held_out_examples, synthetic_photos, synthetic_renders

    synthetic = {**SYNTHETIC_DEFAULTS, **manifest["training"]["config"]["dataset_args"].get("synthetic", {}), **rule}
    _, held_photos = synthetic_photos(photos_root)
    held = synthetic_renders("holdout", synthetic["held_out_digits"], synthetic["held_out_negatives"],
                             synthetic["seed"], workers, mnist, held_photos)
    with np.load(mnist) as data:
        x_train = (data["x_train"].astype(np.float32) / 255)[..., None]
        y_train = data["y_train"].astype(np.int32)
        x_test = (data["x_test"].astype(np.float32) / 255)[..., None]
    return held_out_examples(x_train, y_train, held, synthetic), held["cache"], x_test


def regated_manifest(manifest: dict[str, Any], ood: dict[str, Any], rule: dict[str, Any]) -> dict[str, Any]:
    """The old manifest with the new ``ood`` block, saying which version and rule it came from."""
    return {**manifest, "ood": {**ood, "rechosen": {"from_version": str(manifest["version"]), **rule}},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def publish(source: Path, manifest: dict[str, Any], promote: bool) -> str:
    """Copy ``source``'s files with ``manifest`` into a staging folder, publish it, maybe promote it."""
    from service.inference import versions

    model_dir = source.parent
    staging = versions.staging_dir(model_dir)
    try:
        for name in COPIED:
            if (source / name).is_file():
                shutil.copy2(source / name, staging / name)
        for name, digest in manifest.get("files_sha256", {}).items():
            if versions.sha256_file(staging / name) != digest:
                raise RuntimeError(f"{source / name} does not match its manifest's sha256: not publishing")
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        versions.pin_default(model_dir)
        version = versions.publish(staging, model_dir)
        if promote:
            versions.write_default(model_dir, version)
        return version
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.regate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir", type=Path, help="the published version to start from: models/<name>/<version>")
    p.add_argument("--chosen-on", choices=sorted(GATE_CHOSEN_ON), default="non_digits",
                   help="the rule (see training.export.HeldOut; default non_digits)")
    p.add_argument("--min-refused", type=float, default=0.98,
                   help="non_digits: the share of held-out non-digits to refuse (default 0.98)")
    p.add_argument("--max-refused", type=float, default=0.02,
                   help="mnist, rendered_read_right: the share of those digits it may refuse (default 0.02)")
    p.add_argument("--promote", action="store_true", help="make the new version the default")
    p.add_argument("--data", type=Path, default=None,
                   help="folder holding mnist/, flowers/ and mugs/ (default ../shared/data beside the repository)")
    p.add_argument("--workers", type=int, default=2, help="render processes when the held-out set is not cached")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from training.datasets import SHARED_DATA
    from training.export import tflite_outputs

    root = args.data or SHARED_DATA
    mnist = root / "mnist" / "mnist.npz"
    manifest_path = args.model_dir / "manifest.json"
    for needed in (manifest_path, mnist):
        if not needed.is_file():
            print(f"error: {needed} not found", file=sys.stderr)
            return 2
    manifest = json.loads(manifest_path.read_text())
    if "synthetic" not in manifest.get("training", {}).get("config", {}).get("dataset_args", {}):
        print(f"error: {args.model_dir} was not trained with a held-out set of non-digits", file=sys.stderr)
        return 2
    gate_rule = {"gate_chosen_on": args.chosen_on, "gate_min_refused": args.min_refused,
                 "gate_max_refused": args.max_refused}
    held_out, cache, x_test = held_out_set(manifest, gate_rule, mnist, root, args.workers)
    served = (args.model_dir / manifest["files"]["tflite"]).read_bytes()
    ood = held_out.gate_block(tflite_outputs(served, held_out.x), x_test, tflite_outputs(served, x_test), "test")
    rule = {"chosen_on": args.chosen_on, "held_out_cache": cache,
            **({"min_refused": args.min_refused} if args.chosen_on == "non_digits" else
               {"max_refused": args.max_refused})}
    version = publish(args.model_dir, regated_manifest(manifest, ood, rule), args.promote)
    print(json.dumps({"model": manifest["name"], "version": version, "from_version": str(manifest["version"]),
                      "promoted": args.promote, "ood": {k: v for k, v in ood.items() if k != "held_out_by_kind"}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
