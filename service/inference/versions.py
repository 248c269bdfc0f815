"""Version folders on disk: ``models/<name>/<version>/`` plus a ``models/<name>/default`` marker.

No Flask and no TensorFlow here: the registry reads with these functions, training publishes with them.

Why renames: a version is written into a hidden staging folder beside its final place (same filesystem), fsynced,
then renamed to its number in one step, so a reader sees either no folder or a complete one. ``os.rename`` refuses
to replace a non-empty folder, so two publishers racing for the same number cannot overwrite each other: the loser
takes the next number. The default marker is replaced the same way (write a temporary file, fsync, rename).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_MARKER = "default"
STAGING_PREFIX = ".tmp-"
TRASH_PREFIX = ".trash-"
STALE_STAGING_SECONDS = 24 * 3600
POLICIES = ("if_better", "always", "never")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks (manifests record one per weights file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_version_name(name: str) -> bool:
    """Version folders are positive whole numbers; hidden staging and trash folders are not versions."""
    return name.isdigit() and int(name) > 0


def version_dirs(model_dir: Path) -> list[Path]:
    """The version folders of one model, oldest (lowest number) first."""
    try:
        entries = [p for p in model_dir.iterdir() if is_version_name(p.name) and p.is_dir()]
    except OSError:
        return []
    return sorted(entries, key=lambda p: int(p.name))


def read_default(model_dir: Path) -> str | None:
    """The version named by the ``default`` marker, or None when there is none (or it is unreadable)."""
    try:
        text = (model_dir / DEFAULT_MARKER).read_text().strip()
    except OSError:
        return None
    return text if is_version_name(text) else None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_default(model_dir: Path, version: str) -> None:
    """Point the model's default at ``version`` atomically; the marker survives restarts."""
    if not (model_dir / str(version)).is_dir():
        raise FileNotFoundError(f"{model_dir / str(version)} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=STAGING_PREFIX + "default-", dir=model_dir)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(f"{version}\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, model_dir / DEFAULT_MARKER)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(model_dir)


def pin_default(model_dir: Path, current: str | None = None) -> None:
    """Write today's default (``current``, else the version readers serve) into the marker when there is none,
    before a higher number is published: otherwise the new version would become the default just by existing."""
    if read_default(model_dir) is None:
        current = current or resolve_default(model_dir)
        if current is not None:
            write_default(model_dir, current)


def staging_dir(model_dir: Path) -> Path:
    """A fresh hidden folder beside the versions (same filesystem, so the final rename is atomic)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale(model_dir)
    return Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=model_dir))


def _remove_stale(model_dir: Path) -> None:
    """Staging folders of runs that died long ago (a cancelled run removes its own at once)."""
    now = time.time()
    for path in model_dir.iterdir():
        if path.name.startswith((STAGING_PREFIX, TRASH_PREFIX)) and path.is_dir():
            try:
                if now - path.stat().st_mtime > STALE_STAGING_SECONDS or path.name.startswith(TRASH_PREFIX):
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                pass


def _fsync_tree(directory: Path) -> None:
    for path in directory.iterdir():
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(directory)


def _set_manifest_version(directory: Path, version: str) -> None:
    path = directory / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: nothing to publish")
    manifest = json.loads(path.read_text())
    manifest["version"] = version
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def next_version(model_dir: Path) -> int:
    existing = version_dirs(model_dir)
    return int(existing[-1].name) + 1 if existing else 1


def publish(staging: Path, model_dir: Path, version: int | None = None, force: bool = False) -> str:
    """Rename a complete staging folder to the next version number (or ``version``) and return the number.

    Never overwrites a version unless ``force`` (explicit ``--version N --force``), which swaps the old folder out
    first and deletes it afterwards.
    """
    for _attempt in range(100):
        number = str(version if version is not None else next_version(model_dir))
        _set_manifest_version(staging, number)
        _fsync_tree(staging)
        target = model_dir / number
        if force and target.exists():
            old = Path(tempfile.mkdtemp(prefix=TRASH_PREFIX, dir=model_dir))
            os.rename(target, old / number)
            os.rename(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                os.rename(staging, target)
            except OSError:
                if version is not None:
                    shutil.rmtree(staging, ignore_errors=True)
                    raise FileExistsError(f"{target} already exists; pass --force to replace it") from None
                continue  # another publisher took this number: take the next one
        _fsync_dir(model_dir)
        log.info("published %s", target)
        return number
    raise RuntimeError(f"could not find a free version number under {model_dir}")


def remove_version(model_dir: Path, version: str) -> None:
    """Take a version out of service in one rename, then delete it."""
    trash = Path(tempfile.mkdtemp(prefix=TRASH_PREFIX, dir=model_dir))
    os.rename(model_dir / version, trash / version)
    shutil.rmtree(trash, ignore_errors=True)


def resolve_default(model_dir: Path, available: list[str] | None = None) -> str | None:
    """The default marker if it names an existing version, else the highest version (what readers serve)."""
    versions = [p.name for p in version_dirs(model_dir)] if available is None else available
    marked = read_default(model_dir)
    if marked in versions:
        return marked
    return max(versions, key=int) if versions else None


def prune(model_dir: Path, keep: int) -> list[str]:
    """Delete the oldest versions beyond ``keep``, never the default one; return what was removed."""
    if keep < 1:
        return []
    versions = [p.name for p in version_dirs(model_dir)]
    default = resolve_default(model_dir, versions)
    removable = [v for v in versions if v != default]
    excess = len(versions) - keep
    removed = removable[:max(0, excess)]
    for version in removed:
        remove_version(model_dir, version)
        log.info("pruned %s/%s (keeping %d versions)", model_dir, version, keep)
    return removed


def eval_accuracy(manifest: dict[str, Any]) -> tuple[str, float] | None:
    """(evaluation set name, accuracy in percent) recorded in a manifest's metrics, if any."""
    metrics = manifest.get("metrics") or {}
    for name in ("test", "validation", "eval"):
        value = metrics.get(f"{name}_accuracy")
        if isinstance(value, (int, float)):
            return name, float(value)
    return None


def same_eval_set(new: dict[str, Any], current: dict[str, Any]) -> bool:
    """Whether two manifests were measured on the same evaluation images (so their accuracies compare)."""
    a, b = new.get("data") or {}, current.get("data") or {}
    if a.get("eval_sha256") and b.get("eval_sha256"):
        return a["eval_sha256"] == b["eval_sha256"]
    new_acc, cur_acc = eval_accuracy(new), eval_accuracy(current)
    if not new_acc or not cur_acc or new_acc[0] != cur_acc[0]:
        return False
    name = new_acc[0]
    counts = (new.get("metrics") or {}).get(f"{name}_count"), (current.get("metrics") or {}).get(f"{name}_count")
    source = (a.get("sha256") or a.get("source")), (b.get("sha256") or b.get("source"))
    return counts[0] == counts[1] and counts[0] is not None and source[0] == source[1] and source[0] is not None


def promotion_decision(policy: str, new: dict[str, Any], current: dict[str, Any] | None) -> tuple[bool, str]:
    """Whether a freshly published version becomes the default, and why (said in the job's record)."""
    if policy == "never":
        return False, "promote is 'never': the default is unchanged"
    if policy == "always" or current is None:
        return True, "promote is 'always'" if policy == "always" else "the model had no default version"
    new_acc, cur_acc = eval_accuracy(new), eval_accuracy(current)
    if new_acc is None or cur_acc is None:
        return False, "no comparable accuracy in the manifests: the default is unchanged"
    if not same_eval_set(new, current):
        return False, (f"version {current.get('version')} was measured on a different evaluation set: "
                       "the default is unchanged (promote it explicitly if wanted)")
    if new_acc[1] >= cur_acc[1]:
        return True, f"{new_acc[0]} accuracy {new_acc[1]:.2f}% >= {cur_acc[1]:.2f}% of version {current.get('version')}"
    return False, f"{new_acc[0]} accuracy {new_acc[1]:.2f}% < {cur_acc[1]:.2f}% of version {current.get('version')}"
