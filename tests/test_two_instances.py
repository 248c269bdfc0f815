"""Scale-out on one machine: two instances behind a real nginx (Debian's) on loopback, under load; one instance is
stopped with SIGTERM mid-load and no request is lost (its in-flight ones finish, new ones go to the other)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from service.config import REPO_ROOT
from tests.conftest import MODELS_DIR
from tests.gunicorn_server import Gunicorn, free_port

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
PROXY_CONF = REPO_ROOT / "deploy" / "nginx" / "proxy.conf"


def nginx_config(folder: Path, port: int, upstreams: list[int]) -> Path:
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in upstreams)
    temp = "\n".join(f"    {kind}_temp_path {folder}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                              "scgi"))
    config = folder / "nginx.conf"
    config.write_text(f"""{'user root;' if os.geteuid() == 0 else ''}
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
{temp}
    upstream classifier {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        client_header_timeout 10s;
        location / {{
            proxy_pass http://classifier;
            include {PROXY_CONF};
        }}
    }}
}}
""")
    return config


@pytest.mark.slow
@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs Debian's nginx)")
def test_stopping_one_instance_loses_no_request(tmp_path, digit_png):
    instances = [Gunicorn(tmp_path / f"instance{i}.log", CLASSIFIER_MODELS_DIR=str(MODELS_DIR),
                          CLASSIFIER_MODELS="mnist", CLASSIFIER_THREADS="2") for i in range(2)]
    proxy = None
    try:
        for instance in instances:
            instance.wait_ready()
        port = free_port()
        proxy = subprocess.Popen([NGINX, "-c", str(nginx_config(tmp_path, port, [i.port for i in instances]))],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert proxy.poll() is None, (tmp_path / "error.log").read_text()
            try:
                if requests.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)

        outcomes: Counter[str] = Counter()
        lock = threading.Lock()
        stop_at = time.monotonic() + 8

        def client() -> None:
            session = requests.Session()
            while time.monotonic() < stop_at:
                try:
                    response = session.post(url + "/mnist/classify", files={"image": ("d.png", digit_png)},
                                            timeout=30)
                    result = "ok" if response.status_code == 200 else f"status {response.status_code}"
                except requests.RequestException as exc:
                    result = type(exc).__name__
                with lock:
                    outcomes[result] += 1

        clients = [threading.Thread(target=client) for _ in range(8)]
        for thread in clients:
            thread.start()
        time.sleep(3)
        instances[0].terminate()  # SIGTERM: drain, refuse new connections
        assert instances[0].process.wait(timeout=25) == 0
        for thread in clients:
            thread.join()
        print("two instances behind nginx, one stopped under load:", dict(outcomes))
        assert outcomes["ok"] > 50
        assert set(outcomes) == {"ok"}, dict(outcomes)
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(timeout=10)
        for instance in instances:
            instance.stop()
