"""Train, then publish the result as the model's next version, then apply the config's promotion policy.

One path for the command line and the API's jobs, so both publish the same way: the run exports into a hidden
staging folder beside the versions, which ``service.inference.versions.publish`` renames into place. Serving
processes follow the folder on their own; nothing here talks to them.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service.inference import versions
from training.config import TrainConfig

log = logging.getLogger(__name__)


def current_default_manifest(model_dir: Path) -> dict[str, Any] | None:
    """The manifest of the version serving as default now: the marker's, else the highest with a manifest."""
    marked = versions.read_default(model_dir)
    candidates = [model_dir / marked] if marked else []
    candidates += [p for p in reversed(versions.version_dirs(model_dir))]
    for directory in candidates:
        try:
            return json.loads((directory / "manifest.json").read_text()) | {"version": directory.name}
        except (OSError, ValueError):
            continue
    return None


def train_and_release(config: TrainConfig, model_dir: Path, *, keep_versions: int = 5, force: bool = False,
                      before_publish: Callable[[], bool] = lambda: True, **train_kwargs: Any) -> dict[str, Any]:
    """Run ``training.run.train`` and, when ``save_weights``, publish and maybe promote the result.

    ``before_publish`` is asked once the run has ended; returning False (the job was cancelled) discards the
    result. The returned summary gains ``"model": {"name", "version"}`` and ``"promotion"``.
    """
    from training.run import train

    if not config.save_weights:
        return train(config, **train_kwargs)
    staging = versions.staging_dir(model_dir)
    try:
        result = train(config, directory=staging, **train_kwargs)
        if not before_publish():
            result["cancelled"] = True
            return result
        current = current_default_manifest(model_dir)
        if current is not None:
            versions.pin_default(model_dir, current["version"])
        version = versions.publish(staging, model_dir, int(config.version) if config.version else None, force)
        manifest = json.loads((model_dir / version / "manifest.json").read_text())
        promote, reason = versions.promotion_decision(config.promote, manifest, current)
        if promote:
            versions.write_default(model_dir, version)
        log.info("published %s version %s; %s", config.name, version,
                 ("promoted: " if promote else "not promoted: ") + reason)
        pruned = versions.prune(model_dir, keep_versions)
        result["model"] = {"name": config.name, "version": version}
        result["promotion"] = {"policy": config.promote, "promoted": promote, "reason": reason,
                               "default_version": versions.read_default(model_dir), "pruned": pruned}
        result["directory"] = str(model_dir / version)
        return result
    finally:
        shutil.rmtree(staging, ignore_errors=True)
