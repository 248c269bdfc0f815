"""One installable package: light imports for the CLI, and `pip install .` giving a working `classify` anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from service.config import REPO_ROOT, Settings

HEAVY = ("flask", "werkzeug", "tensorflow", "keras")


@pytest.mark.parametrize("module", ["service", "service.inference", "service.cli", "service.config"])
def test_importing_the_cli_side_imports_no_flask_and_no_tensorflow(module):
    code = f"import sys, {module}; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_create_app_is_still_importable_from_the_package():
    from service import create_app
    from service.factory import create_app as factory_create_app

    assert create_app is factory_create_app


def test_settings_hold_the_server_knobs_with_the_usual_aliases():
    settings = Settings.from_env({"PORT": "9001", "HOST": "127.0.0.1", "WEB_CONCURRENCY": "3",
                                  "CLASSIFIER_ACCESS_LOG": "off", "CLASSIFIER_TIMEOUT": "7"})
    assert (settings.host, settings.port, settings.workers, settings.access_log, settings.timeout) == (
        "127.0.0.1", 9001, 3, False, 7)
    assert Settings.from_env({"WEB_CONCURRENCY": "3", "CLASSIFIER_WORKERS": "5"}).workers == 5


def test_gunicorn_conf_reads_settings_and_parses_nothing_itself():
    text = (REPO_ROOT / "gunicorn.conf.py").read_text()
    assert "os.environ.get" not in text and "int(" not in text
    done = subprocess.run(
        [sys.executable, "-c", "import runpy; c = runpy.run_path('gunicorn.conf.py'); "
         "print(c['bind'], c['workers'], c['threads'], c['accesslog'])"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
        env=dict(os.environ, PORT="9002", CLASSIFIER_WORKERS="3", CLASSIFIER_THREADS="2", CLASSIFIER_ACCESS_LOG="0"),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["['0.0.0.0:9002']", "3", "2", "None"]


@pytest.mark.slow
def wheelhouse() -> Path:
    """The wheels `make test` downloads beforehand (``.venv/wheelhouse``), so that installing needs no network."""
    folder = REPO_ROOT / ".venv" / "wheelhouse"
    if not (REPO_ROOT / ".venv" / ".wheelhouse").is_file():
        pytest.skip("no wheelhouse: `make test` (or `make .venv/.wheelhouse`) makes .venv/wheelhouse first")
    return folder


def test_pip_install_gives_a_working_classify_from_any_folder(tmp_path):
    """Build the wheel, install it with its dependencies into a new venv, classify a digit from an empty folder.

    Dependencies come from the wheelhouse `make test` fills (no network here); no TensorFlow is installed.
    """
    offline = ["--no-index", "--find-links", str(wheelhouse())]
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", *offline, "--no-deps", "--wheel-dir", str(wheels), str(REPO_ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("image_classification_service-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", *offline, "--quiet", "-c", str(REPO_ROOT / "requirements.txt"),
         str(wheel)],
        capture_output=True, text=True, timeout=900,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    photo = REPO_ROOT / "test-data" / "special" / "mnist28-7.png"
    if not photo.is_file():
        photo = sorted((REPO_ROOT / "test-data" / "special").glob("mnist28-*.png"))[0]
    done = subprocess.run(
        [str(env_dir / "bin" / "classify"), "--model", "mnist", str(photo)],
        capture_output=True, text=True, cwd=elsewhere, timeout=300, env={"PATH": os.environ["PATH"]},
    )
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    answer = json.loads(line)[photo.name]
    assert answer["class"] == photo.stem.split("-")[-1][0]
    modules = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('tensorflow') is None)"],
        capture_output=True, text=True, cwd=elsewhere, timeout=120,
    )
    assert modules.stdout.strip() == "True"
    assert not Path(elsewhere / "models").exists()
    serving = subprocess.run(
        [str(python), "-c", SERVE_CHECK, str(photo)], capture_output=True, text=True, cwd=elsewhere, timeout=300,
        env={"PATH": os.environ["PATH"], "CLASSIFIER_LOG_LEVEL": "WARNING"},
    )
    assert serving.returncode == 0, serving.stderr[-3000:]
    assert serving.stdout.split() == ["200", "200", "200", answer["class"]]


# The installed app serves its page (static files), Swagger UI and a prediction with the installed models.
SERVE_CHECK = """
import sys
from service import create_app
client = create_app().test_client()
data = open(sys.argv[1], "rb").read()
print(client.get("/").status_code, client.get("/docs/").status_code, client.get("/openapi.json").status_code,
      client.post("/predict?model=mnist", data=data, content_type="image/png").get_json()["label"])
"""
