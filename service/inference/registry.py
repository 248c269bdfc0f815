"""Discover ``models/<name>/<version>/`` folders, load every version once per process, follow changes on disk.

Adding a model is adding a folder; publishing a version is renaming a complete folder into place
(``service.inference.versions``). Each model has a default version: the one the ``default`` marker names, else the
highest version that loaded. A version that fails to load is kept as FAILED with the reason: it is never served and
never the default, and the versions already loaded keep serving. Readiness tells the truth about all of it.

How changes are noticed: ``watch()`` starts one daemon thread per process that stats the folders every
``interval`` seconds (a few dozen ``stat`` calls) and loads what changed, then swaps in new lookup tables in one
assignment. A request only does a dictionary lookup and never waits for a load.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from service.errors import ModelLoadError, ModelNotFound
from service.inference import versions as disk
from service.inference.manifest import MANIFEST_NAME, Manifest
from service.inference.model import Model

log = logging.getLogger(__name__)

LOADING, AVAILABLE, FAILED = "loading", "available", "failed"


@dataclass(frozen=True)
class VersionInfo:
    """One version of a model as this process sees it."""

    version: str
    state: str  # loading | available | failed
    reason: str | None = None
    model: Model | None = field(default=None, repr=False)
    manifest: dict[str, Any] = field(default_factory=dict, repr=False)
    signature: tuple = field(default=(), repr=False, compare=False)

    def describe(self, default: str | None) -> dict[str, Any]:
        """The public view of a version (``GET /api/v1/models/<name>``)."""
        body: dict[str, Any] = {"version": self.version, "state": self.state, "default": self.version == default}
        if self.reason:
            body["reason"] = self.reason
        body["metrics"] = self.manifest.get("metrics", {})
        body["created"] = self.manifest.get("created")
        if self.model is not None:
            body["runtime"] = self.model.runtime_name
        return body


def _version_signature(directory: Path) -> tuple:
    """What changes when a version folder is replaced or its files are rewritten: inode, mtimes and sizes."""
    st = directory.stat()
    files = []
    with os.scandir(directory) as entries:
        for entry in entries:
            try:
                fst = entry.stat()
            except OSError:
                continue
            files.append((entry.name, fst.st_size, fst.st_mtime_ns, fst.st_ino))
    return (st.st_ino, st.st_mtime_ns, tuple(sorted(files)))


def load_version(directory: Path, num_threads: int = 1) -> Model:
    """Load one version folder, refusing a half-written one: the weights it serves must exist, and every file
    present must match its checksum when the manifest records one (``files_sha256``).

    Only the served weights must be there: the container image leaves out ``model.keras`` (training's copy) on
    purpose, and a TFLite version serves without it.
    """
    if not (directory / MANIFEST_NAME).is_file():
        raise ModelLoadError(f"{directory}: no {MANIFEST_NAME} (incomplete or not a model version)")
    manifest = Manifest.load(directory)
    served = [manifest.files["tflite"]] if "tflite" in manifest.files else list(manifest.files.values())
    missing = [name for name in served if not (directory / name).is_file()]
    if missing:
        raise ModelLoadError(f"{directory}: listed file(s) missing: {', '.join(missing)}")
    for name, expected in (manifest.raw.get("files_sha256") or {}).items():
        path = directory / name
        if path.is_file() and disk.sha256_file(path) != expected:
            raise ModelLoadError(f"{directory}: {name} does not match its checksum (truncated or modified)")
    if manifest.version != directory.name and disk.is_version_name(directory.name):
        manifest = replace(manifest, version=directory.name)  # the folder name is the version that is served
    if "tflite" in manifest.files:
        # A broken .tflite fails the version rather than falling back to Keras: that would import TensorFlow
        # into a serving worker (seconds and hundreds of MB) to serve a folder that is damaged anyway.
        manifest = replace(manifest, files={"tflite": manifest.files["tflite"]})
    return Model.load(manifest, num_threads)


def discover(models_dir: Path, names: tuple[str, ...] = ()) -> dict[str, Path]:
    """name -> folder of its default version (the ``default`` marker's, else the highest holding a manifest), for
    tools that read one version's files without loading them (benchmarks, quality checks)."""
    found: dict[str, Path] = {}
    if not models_dir.is_dir():
        return found
    for model_dir in sorted(p for p in models_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if names and model_dir.name not in names:
            continue
        candidates = [p.name for p in disk.version_dirs(model_dir) if (p / MANIFEST_NAME).is_file()]
        default = disk.resolve_default(model_dir, candidates)
        if default is not None:
            found[model_dir.name] = model_dir / default
        else:
            legacy: dict[str, tuple[Path, tuple]] = {}
            if ModelRegistry._legacy_version(model_dir, legacy):
                found[model_dir.name] = next(iter(legacy.values()))[0]
    return found


class ModelRegistry:
    """The process-wide set of loaded models and versions (the only mutable global state the service has)."""

    def __init__(self, models: dict[str, Model] | None = None) -> None:
        self.models_dir: Path | None = None
        self.names_filter: tuple[str, ...] = ()
        self.num_threads = 1
        self.expected: set[str] = set()
        self.load_seconds: float = 0.0
        self._versions: dict[str, dict[str, VersionInfo]] = {}
        self._default_names: dict[str, str] = {}
        self._defaults: dict[str, Model] = {}
        self._errors: dict[str, str] = {}
        self._markers: dict[str, str | None] = {}
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for model in (models or {}).values():
            self.add(model)

    # -- building ---------------------------------------------------------------------------------------------

    @classmethod
    def from_directory(cls, models_dir: Path, names: tuple[str, ...] = (), num_threads: int = 1) -> ModelRegistry:
        registry = cls()
        registry.load_directory(models_dir, names, num_threads)
        return registry

    def load_directory(self, models_dir: Path, names: tuple[str, ...] = (), num_threads: int = 1) -> None:
        start = time.perf_counter()
        self.models_dir, self.names_filter, self.num_threads = Path(models_dir), tuple(names), num_threads
        self.refresh()
        self.expected |= set(self._versions) | set(names)
        self._publish_tables(dict(self._versions), dict(self._default_names))
        self.load_seconds = time.perf_counter() - start

    def add(self, model: Model, default: bool | None = None) -> None:
        """Serve an already loaded model (tests, embedding); it becomes the default if asked or if first."""
        versions = dict(self._versions.get(model.name, {}))
        version = str(model.manifest.version)
        versions[version] = VersionInfo(version, AVAILABLE, model=model, manifest=model.manifest.raw)
        all_versions = dict(self._versions, **{model.name: versions})
        defaults = dict(self._default_names)
        if default or model.name not in defaults:
            defaults[model.name] = version
        self.expected.add(model.name)
        self._publish_tables(all_versions, defaults)

    # -- reading (the request path: dictionary lookups only) -------------------------------------------------

    def get(self, name: str, version: str | int | None = None) -> Model:
        """The model's default version, or the named one; ModelNotFound (404) names what exists."""
        if version is None:
            model = self._defaults.get(name)
            if model is not None:
                return model
            if name in self._versions:
                raise ModelNotFound(f"model {name!r} has no version that can be served: {self._errors.get(name)}")
            available = ", ".join(sorted(self._defaults)) or "none"
            raise ModelNotFound(f"unknown model {name!r}; available models: {available}")
        info = self._versions.get(name, {}).get(str(version).strip())
        if info is not None and info.model is not None:
            return info.model
        if name not in self._versions:
            available = ", ".join(sorted(self._defaults)) or "none"
            raise ModelNotFound(f"unknown model {name!r}; available models: {available}")
        if info is not None:
            raise ModelNotFound(f"version {version} of model {name!r} is {info.state}"
                                + (f": {info.reason}" if info.reason else ""))
        served = ", ".join(v for v, i in self._versions[name].items() if i.state == AVAILABLE) or "none"
        raise ModelNotFound(f"model {name!r} has no version {version!r}; available versions: {served}")

    def versions(self, name: str) -> list[VersionInfo]:
        """Every version of a model this process knows (loading, available or failed), oldest first."""
        if name not in self._versions:
            self.get(name)  # raises the 404 with the list of models
        return sorted(self._versions[name].values(), key=lambda i: (len(i.version), i.version))

    def default_version(self, name: str) -> str | None:
        return self._default_names.get(name)

    def describe(self, name: str) -> dict[str, Any]:
        """Versions with state, metrics and the default: what ``GET /api/v1/models/<name>`` adds."""
        default = self.default_version(name)
        return {"default_version": default, "versions": [i.describe(default) for i in self.versions(name)]}

    @property
    def errors(self) -> dict[str, str]:
        """Problems readiness reports: ``name`` when a model has nothing to serve, ``name/version`` per failed
        version, ``name/default`` when the default marker names a version that cannot be served."""
        return self._errors

    @property
    def ready(self) -> bool:
        """True once every expected model has a default version loaded (and at least one model does)."""
        return bool(self._defaults) and self.expected <= set(self._defaults)

    def __contains__(self, name: object) -> bool:
        return name in self._defaults

    def __iter__(self) -> Iterator[Model]:
        return iter(list(self._defaults.values()))

    def names(self) -> list[str]:
        return sorted(self._defaults)

    # -- changing ---------------------------------------------------------------------------------------------

    def promote(self, name: str, version: str) -> None:
        """Make ``version`` the default: the marker on disk (all workers follow it), then this process at once."""
        info = self._versions.get(name, {}).get(str(version))
        if info is None or info.model is None:
            self.get(name, version)  # the 404 that says why
        if self.models_dir is not None:
            disk.write_default(self.models_dir / name, str(version))
            self.refresh()
        else:
            self._publish_tables(dict(self._versions), dict(self._default_names, **{name: str(version)}))

    def refresh(self) -> bool:
        """Compare the folders with what is loaded; load new or changed versions, drop removed ones.

        Returns whether anything changed. Safe to call from any thread; one refresh runs at a time.
        """
        if self.models_dir is None:
            return False
        with self._refresh_lock:
            scanned = self._scan()
            current = self._versions
            changed = set(scanned) != set(current)
            pending: dict[str, dict[str, VersionInfo]] = {}
            to_load: list[tuple[str, str, Path, tuple]] = []
            for name, (found, _marker) in scanned.items():
                pending[name] = {}
                for version, (directory, signature) in found.items():
                    old = current.get(name, {}).get(version)
                    if old is not None and old.signature == signature:
                        pending[name][version] = old
                        continue
                    changed = True
                    pending[name][version] = VersionInfo(version, LOADING, signature=signature)
                    to_load.append((name, version, directory, signature))
                if set(found) != set(current.get(name, {})):
                    changed = True
            defaults = self._choose_defaults(pending, scanned)
            markers = {name: marker for name, (_found, marker) in scanned.items()}
            if defaults != self._default_names or markers != self._markers:
                changed = True
            self._markers = markers
            if not changed:
                return False
            if to_load:
                self._publish_tables(pending, defaults)  # "loading" is visible while it loads
            for name, version, directory, signature in to_load:
                pending[name][version] = self._load(name, version, directory, signature)
            self._publish_tables(pending, self._choose_defaults(pending, scanned))
            return True

    def watch(self, interval: float) -> None:
        """Follow the models folder from a daemon thread, every ``interval`` seconds (0 or less: never)."""
        if interval <= 0 or self.models_dir is None or self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.refresh()
                except Exception:  # a bad folder must never stop the watcher
                    log.exception("model folder refresh failed")

        self._thread = threading.Thread(target=loop, name="model-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    # -- internals --------------------------------------------------------------------------------------------

    def _scan(self) -> dict[str, tuple[dict[str, tuple[Path, tuple]], str | None]]:
        """name -> ({version: (folder, signature)}, default marker) for every model folder on disk."""
        assert self.models_dir is not None
        result: dict[str, tuple[dict[str, tuple[Path, tuple]], str | None]] = {}
        try:
            model_dirs = [p for p in self.models_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
        except OSError:
            return result
        for model_dir in model_dirs:
            if self.names_filter and model_dir.name not in self.names_filter:
                continue
            found: dict[str, tuple[Path, tuple]] = {}
            for directory in disk.version_dirs(model_dir):
                try:
                    found[directory.name] = (directory, _version_signature(directory))
                except OSError:
                    continue  # removed while we looked
            if not found and not self._legacy_version(model_dir, found):
                continue
            result[model_dir.name] = (found, disk.read_default(model_dir))
        return result

    @staticmethod
    def _legacy_version(model_dir: Path, found: dict[str, tuple[Path, tuple]]) -> bool:
        """Non-numeric version folders holding a manifest (older layouts): the last in sort order is served."""
        named = sorted(p for p in model_dir.iterdir()
                       if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST_NAME).is_file())
        if named:
            found[named[-1].name] = (named[-1], _version_signature(named[-1]))
        return bool(named)

    def _load(self, name: str, version: str, directory: Path, signature: tuple) -> VersionInfo:
        try:
            model = load_version(directory, self.num_threads)
        except ModelLoadError as exc:
            log.error("model %s version %s not loaded: %s", name, version, exc.message)
            return VersionInfo(version, FAILED, exc.message, signature=signature, manifest=_raw_manifest(directory))
        except Exception as exc:  # an unexpected loader error is still one bad version, not a dead worker
            log.exception("model %s version %s not loaded", name, version)
            return VersionInfo(version, FAILED, f"{type(exc).__name__}: {exc}", signature=signature)
        log.info("loaded model %s version %s (%s)", name, version, model.runtime_name)
        return VersionInfo(version, AVAILABLE, model=model, manifest=model.manifest.raw, signature=signature)

    @staticmethod
    def _choose_defaults(versions: dict[str, dict[str, VersionInfo]], scanned: dict) -> dict[str, str]:
        defaults: dict[str, str] = {}
        for name, infos in versions.items():
            marker = scanned.get(name, ({}, None))[1]
            available = [v for v, i in infos.items() if i.state == AVAILABLE]
            if marker in available:
                defaults[name] = marker
            elif available:
                defaults[name] = max(available, key=lambda v: (v.isdigit(), int(v) if v.isdigit() else 0, v))
        return defaults

    def _publish_tables(self, versions: dict[str, dict[str, VersionInfo]], defaults: dict[str, str]) -> None:
        """Swap in new lookup tables; readers see the old or the new ones, never a mix within one table."""
        errors: dict[str, str] = {}
        for name, infos in versions.items():
            failed = {v: i.reason or i.state for v, i in infos.items() if i.state == FAILED}
            for version, reason in failed.items():
                errors[f"{name}/{version}"] = reason
            if name not in defaults:
                errors[name] = "no version can be served" + (f" ({'; '.join(failed.values())})" if failed else "")
        if self.models_dir is not None:
            for name, infos in versions.items():
                marker = disk.read_default(self.models_dir / name)
                if marker is not None and defaults.get(name) != marker:
                    state = infos.get(marker)
                    why = f"is {state.state}" if state else "does not exist"
                    errors[f"{name}/default"] = (f"the default marker names version {marker}, which {why}; "
                                                 f"serving version {defaults.get(name)}")
        for name in self.expected - set(versions):
            errors[name] = f"no model folder with a version under {self.models_dir / name if self.models_dir else name}"
        self._versions = versions
        self._default_names = defaults
        self._defaults = {name: versions[name][v].model for name, v in defaults.items()}  # type: ignore[misc]
        self._errors = errors


def _raw_manifest(directory: Path) -> dict[str, Any]:
    try:
        return Manifest.load(directory).raw
    except ModelLoadError:
        return {}
