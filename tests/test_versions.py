"""Versions on disk: atomic publish, the default marker, broken folders, pruning, and the registry following them."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from service import create_app
from service.config import Settings
from service.inference import versions
from service.inference.registry import ModelRegistry
from tests.conftest import MODELS_DIR

SHIPPED = MODELS_DIR / "mnist" / "1"


def copy_version(models: Path, version: str, checksums: bool = True) -> Path:
    """A copy of the shipped digit model as ``models/mnist/<version>``, manifest naming that version."""
    target = models / "mnist" / version
    shutil.copytree(SHIPPED, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["version"] = version
    if checksums:
        manifest["files_sha256"] = {name: hashlib.sha256((target / name).read_bytes()).hexdigest()
                                    for name in manifest["files"].values()}
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


def staged(models: Path) -> Path:
    staging = versions.staging_dir(models / "mnist")
    for path in SHIPPED.iterdir():
        shutil.copy(path, staging)
    return staging


@pytest.fixture
def models(tmp_path: Path) -> Path:
    copy_version(tmp_path / "models", "1")
    return tmp_path / "models"


def test_publish_takes_the_next_number_and_never_overwrites(models):
    first = staged(models)
    assert versions.publish(first, models / "mnist") == "2"
    assert not first.exists()
    assert json.loads((models / "mnist" / "2" / "manifest.json").read_text())["version"] == "2"
    assert versions.publish(staged(models), models / "mnist") == "3"
    with pytest.raises(FileExistsError):
        versions.publish(staged(models), models / "mnist", version=2)
    before = (models / "mnist" / "2").stat().st_ino
    assert versions.publish(staged(models), models / "mnist", version=2, force=True) == "2"
    assert (models / "mnist" / "2").stat().st_ino != before
    assert [p.name for p in versions.version_dirs(models / "mnist")] == ["1", "2", "3"]
    assert not [p for p in (models / "mnist").iterdir() if p.name.startswith(".")]


def test_registry_follows_new_and_removed_versions(models):
    registry = ModelRegistry.from_directory(models)
    assert registry.default_version("mnist") == "1"
    staging = staged(models)
    registry.refresh()
    assert [i.version for i in registry.versions("mnist")] == ["1"], "a staging folder is not a version"
    versions.publish(staging, models / "mnist")
    assert registry.refresh() is True
    assert registry.default_version("mnist") == "2"  # no marker: the highest version that loaded
    assert registry.get("mnist").manifest.version == "2"
    assert registry.get("mnist", "1").manifest.version == "1"
    assert registry.refresh() is False
    versions.remove_version(models / "mnist", "2")
    registry.refresh()
    assert registry.default_version("mnist") == "1"
    with pytest.raises(Exception) as excinfo:
        registry.get("mnist", "2")
    assert excinfo.value.status == 404 and "available versions: 1" in excinfo.value.message


@pytest.mark.parametrize("damage", ["truncated_tflite", "no_manifest", "listed_file_missing",
                                    "truncated_without_checksums"])
def test_half_written_version_is_failed_never_default_never_served(models, damage):
    bad = copy_version(models, "2", checksums=damage != "truncated_without_checksums")
    if damage in ("truncated_tflite", "truncated_without_checksums"):
        data = (bad / "model.tflite").read_bytes()
        (bad / "model.tflite").write_bytes(data[: len(data) // 3])
    elif damage == "no_manifest":
        (bad / "manifest.json").unlink()
    else:
        (bad / "model.tflite").unlink()
    registry = ModelRegistry.from_directory(models)
    assert registry.ready and registry.default_version("mnist") == "1"
    states = {i.version: (i.state, i.reason) for i in registry.versions("mnist")}
    assert states["1"] == ("available", None)
    assert states["2"][0] == "failed" and states["2"][1]
    assert "mnist/2" in registry.errors
    with pytest.raises(Exception) as excinfo:
        registry.get("mnist", "2")
    assert excinfo.value.status == 404 and "failed" in excinfo.value.message
    # Even promoted by hand on disk, a failed version is not served: the good one is, and readiness says why.
    (models / "mnist" / "default").write_text("2\n")
    registry.refresh()
    assert registry.get("mnist").manifest.version == "1"
    assert "names version 2, which is failed" in registry.errors["mnist/default"]


def test_a_version_without_its_keras_copy_is_served(models):
    # The container image leaves model.keras out: the TFLite weights alone serve.
    (models / "mnist" / "1" / "model.keras").unlink(missing_ok=True)
    registry = ModelRegistry.from_directory(models)
    assert registry.get("mnist", "1").runtime_name == "tflite"
    assert not registry.errors


def test_repaired_version_loads_on_the_next_refresh(models):
    bad = copy_version(models, "2")
    good_bytes = (bad / "model.tflite").read_bytes()
    (bad / "model.tflite").write_bytes(good_bytes[:1000])
    registry = ModelRegistry.from_directory(models)
    assert registry.versions("mnist")[1].state == "failed"
    (bad / "model.tflite").write_bytes(good_bytes)
    registry.refresh()
    assert registry.versions("mnist")[1].state == "available"
    assert registry.default_version("mnist") == "2" and "mnist/2" not in registry.errors


def test_promote_writes_the_marker_that_a_restart_follows(models):
    copy_version(models, "2")
    registry = ModelRegistry.from_directory(models)
    assert registry.default_version("mnist") == "2"
    registry.promote("mnist", "1")
    assert (models / "mnist" / "default").read_text().strip() == "1"
    assert registry.get("mnist").manifest.version == "1"
    assert ModelRegistry.from_directory(models).default_version("mnist") == "1"
    with pytest.raises(Exception) as excinfo:
        registry.promote("mnist", "7")
    assert excinfo.value.status == 404


def test_prune_keeps_the_newest_and_the_default(models):
    for version in "2345":
        copy_version(models, version)
    versions.write_default(models / "mnist", "1")
    assert versions.prune(models / "mnist", keep=3) == ["2", "3"]
    assert [p.name for p in versions.version_dirs(models / "mnist")] == ["1", "4", "5"]


def test_promotion_policy():
    base = {"version": "1", "metrics": {"test_accuracy": 99.0, "test_count": 10000}, "data": {"sha256": "a"}}
    better = {"version": "2", "metrics": {"test_accuracy": 99.1, "test_count": 10000}, "data": {"sha256": "a"}}
    worse = dict(better, metrics={"test_accuracy": 98.0, "test_count": 10000})
    other_set = dict(better, metrics={"test_accuracy": 99.9, "test_count": 2000})
    assert versions.promotion_decision("if_better", better, base)[0] is True
    assert versions.promotion_decision("if_better", worse, base)[0] is False
    assert versions.promotion_decision("if_better", other_set, base) == (
        False, ("version 1 was measured on a different evaluation set: the default is unchanged "
                "(promote it explicitly if wanted)"))
    assert versions.promotion_decision("always", worse, base)[0] is True
    assert versions.promotion_decision("never", better, base)[0] is False
    assert versions.promotion_decision("if_better", worse, None)[0] is True


def test_http_versions_promote_and_version_query(models, digit_png, tmp_path):
    copy_version(models, "2")
    app = create_app(Settings(models_dir=models, reload_seconds=0, state_dir=tmp_path / "var"))
    client = app.test_client()
    detail = client.get("/api/v1/models/mnist").get_json()
    assert detail["default_version"] == "2" and detail["version"] == "2"
    assert [(v["version"], v["state"], v["default"]) for v in detail["versions"]] == [
        ("1", "available", False), ("2", "available", True)]
    assert detail["versions"][0]["metrics"]["test_accuracy"] > 99
    post = {"data": digit_png, "headers": {"Content-Type": "image/png"}}
    assert client.post("/predict?version=1", **post).get_json()["version"] == "1"
    assert client.post("/api/v1/predict", **post).get_json()["version"] == "2"
    missing = client.post("/predict?version=9", **post)
    assert missing.status_code == 404 and "available versions: 1, 2" in missing.get_json()["error"]
    promoted = client.post("/api/v1/models/mnist/versions/1/promote")
    assert promoted.status_code == 200
    assert promoted.get_json() == {"name": "mnist", "default_version": "1", "previous_default": "2"}
    assert client.post("/mnist/classify", data={"image": (__import__("io").BytesIO(digit_png), "d.png")}
                       ).get_json()["version"] == "1"
    assert client.post("/api/v1/models/mnist/versions/5/promote").status_code == 404
    assert client.post("/api/v1/models/nope/versions/1/promote").status_code == 404
