"""``python -m training.regate``: a published digit model's gate chosen again and published as a new version."""

from __future__ import annotations

import json
import shutil

import pytest

from service.inference import versions
from tests.conftest import MODELS_DIR, SHARED_DATA
from training import regate


def fake_version(root, number: str = "3") -> dict:
    """A version folder with two files its manifest vouches for (publishing copies, never reads them as models)."""
    folder = root / "mnist" / number
    folder.mkdir(parents=True)
    (folder / "model.tflite").write_bytes(b"tflite bytes")
    (folder / "model.keras").write_bytes(b"keras bytes")
    manifest = {"name": "mnist", "version": number, "ood": {"threshold": 1.0},
                "files_sha256": {f: versions.sha256_file(folder / f) for f in ("model.tflite", "model.keras")}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def test_the_new_manifest_keeps_everything_but_the_gate_and_says_where_it_came_from(tmp_path):
    manifest = fake_version(tmp_path)
    new = regate.regated_manifest(manifest, {"threshold": 2.5}, {"chosen_on": "non_digits", "min_refused": 0.98})
    assert new["files_sha256"] == manifest["files_sha256"] and new["name"] == "mnist"
    assert new["ood"] == {"threshold": 2.5, "rechosen": {"from_version": "3", "chosen_on": "non_digits",
                                                         "min_refused": 0.98}}
    assert manifest["ood"] == {"threshold": 1.0}  # the source's manifest object is left alone


def test_publishing_alone_leaves_the_default_where_it_was(tmp_path):
    manifest = fake_version(tmp_path)
    source = tmp_path / "mnist" / "3"
    version = regate.publish(source, regate.regated_manifest(manifest, {"threshold": 2.5}, {}), promote=False)
    assert version == "4"
    assert versions.read_default(tmp_path / "mnist") == "3"
    published = tmp_path / "mnist" / "4"
    assert json.loads((published / "manifest.json").read_text())["ood"]["threshold"] == 2.5
    assert (published / "model.tflite").read_bytes() == b"tflite bytes"
    assert json.loads((source / "manifest.json").read_text())["ood"] == {"threshold": 1.0}  # never changed


def test_promote_makes_the_new_version_the_default(tmp_path):
    manifest = fake_version(tmp_path)
    regate.publish(tmp_path / "mnist" / "3", regate.regated_manifest(manifest, {}, {}), promote=True)
    assert versions.read_default(tmp_path / "mnist") == "4"


def test_a_file_that_does_not_match_its_manifest_is_not_published(tmp_path):
    manifest = fake_version(tmp_path)
    (tmp_path / "mnist" / "3" / "model.tflite").write_bytes(b"changed after export")
    with pytest.raises(RuntimeError, match="sha256"):
        regate.publish(tmp_path / "mnist" / "3", regate.regated_manifest(manifest, {}, {}), promote=True)
    assert [p.name for p in (tmp_path / "mnist").iterdir()] == ["3"]  # no 4, no marker, no staging left


def test_a_model_without_held_out_non_digits_is_a_clear_error(tmp_path, capsys):
    fake_version(tmp_path)
    data = tmp_path / "data"
    (data / "mnist").mkdir(parents=True)
    (data / "mnist" / "mnist.npz").write_bytes(b"")
    assert regate.main([str(tmp_path / "mnist" / "3"), "--data", str(data)]) == 2
    assert "held-out set of non-digits" in capsys.readouterr().err


def shipped_default() -> dict:
    model_dir = MODELS_DIR / "mnist"
    return json.loads((model_dir / versions.resolve_default(model_dir) / "manifest.json").read_text())


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / "mnist" / "mnist.npz").is_file(),
                    reason=f"needs MNIST and the photos at {SHARED_DATA}")
def test_the_shipped_gate_is_what_the_command_makes_from_its_source_version(tmp_path, capsys):
    """The served version's threshold was chosen by this command from an earlier version's weights: running it
    again (the held-out set rendered afresh when not cached) gives the same threshold and rates."""
    shipped = shipped_default()
    rechosen = shipped["ood"].get("rechosen")
    if rechosen is None:
        pytest.skip("the served digit model's gate was chosen at export, not by training.regate")
    source = tmp_path / "mnist" / rechosen["from_version"]
    shutil.copytree(MODELS_DIR / "mnist" / rechosen["from_version"], source)
    rule = ["--chosen-on", rechosen["chosen_on"]]
    for key in ("min_refused", "max_refused"):
        if key in rechosen:
            rule += [f"--{key.replace('_', '-')}", str(rechosen[key])]
    assert regate.main([str(source), *rule, "--data", str(SHARED_DATA)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["version"] == str(int(rechosen["from_version"]) + 1) and not printed["promoted"]
    assert printed["ood"]["threshold"] == pytest.approx(shipped["ood"]["threshold"], abs=1e-3)
    assert printed["ood"]["held_out_non_digits_refused_percent"] == pytest.approx(
        shipped["ood"]["held_out_non_digits_refused_percent"], abs=0.05)
