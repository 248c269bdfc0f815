"""The real thing: gunicorn with the shipped model on a free loopback port, hit with real HTTP requests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from service.config import REPO_ROOT
from tests.conftest import MODELS_DIR

GUNICORN = Path(sys.executable).with_name("gunicorn")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, models_dir: Path, log_path: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = dict(os.environ, HOST="127.0.0.1", PORT=str(self.port), CLASSIFIER_WORKERS="1",
                       CLASSIFIER_MODELS_DIR=str(models_dir))
        environ.update(env)
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            [str(GUNICORN), "--config", "gunicorn.conf.py"], cwd=REPO_ROOT, env=environ,
            stdout=self.log, stderr=subprocess.STDOUT,
        )

    def wait_listening(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log.name}")
            try:
                requests.get(self.url + "/healthz", timeout=1)
                return
            except (requests.ConnectionError, requests.Timeout):  # a busy machine may accept but answer late
                time.sleep(0.1)
        raise TimeoutError("gunicorn did not start listening")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        finally:
            self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    assert (MODELS_DIR / "mnist").is_dir(), "the shipped models/mnist folder is missing"
    srv = Server(MODELS_DIR, tmp_path_factory.mktemp("gunicorn") / "server.log",
                 CLASSIFIER_MODELS="mnist", CLASSIFIER_MAX_UPLOAD_BYTES="300000")
    srv.wait_listening()
    yield srv
    srv.stop()


def test_ready_after_models_load(server):
    response = requests.get(server.url + "/readyz", timeout=5)
    assert response.status_code == 200
    assert response.json()["models"] == ["mnist"]


def test_classify_real_digit(server, digit_png):
    response = requests.post(server.url + "/mnist/classify", files={"image": ("seven.png", digit_png)}, timeout=10)
    assert response.status_code == 200
    assert response.json()["classification"] == "7"


def test_text_file_is_404(server):
    response = requests.post(server.url + "/mnist/classify", files={"image": ("a.txt", b"text")}, timeout=10)
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_get_is_405_json_and_html(server):
    api = requests.get(server.url + "/mnist/classify", headers={"Accept": "application/json"}, timeout=5)
    assert api.status_code == 405 and api.json()["code"] == "method_not_allowed"
    html = requests.get(server.url + "/mnist/classify", headers={"Accept": "text/html"}, timeout=5)
    assert html.status_code == 405 and html.headers["Content-Type"].startswith("text/html")


def test_oversized_body_is_413_and_worker_survives(server, digit_png):
    big = requests.post(server.url + "/predict", data=b"\xff\xd8\xff" + b"\0" * 400_000,
                        headers={"Content-Type": "image/jpeg"}, timeout=10)
    assert big.status_code == 413 and big.json()["code"] == "payload_too_large"
    again = requests.post(server.url + "/predict", data=digit_png, headers={"Content-Type": "image/png"}, timeout=10)
    assert again.status_code == 200 and again.json()["prediction"] == 7


def test_not_ready_when_a_model_cannot_load(tmp_path):
    broken = tmp_path / "models"
    shutil.copytree(MODELS_DIR / "mnist", broken / "mnist")
    (broken / "digits-broken" / "1").mkdir(parents=True)
    (broken / "digits-broken" / "1" / "manifest.json").write_text("{not json")
    srv = Server(broken, tmp_path / "server.log")
    try:
        srv.wait_listening()
        response = requests.get(srv.url + "/readyz", timeout=5)
        assert response.status_code == 503
        assert "digits-broken" in response.json()["errors"]
        assert requests.get(srv.url + "/healthz", timeout=5).status_code == 200
    finally:
        srv.stop()
