"""A real gunicorn on a free loopback port, for the hardening tests: configurable app, environment and workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from service.config import REPO_ROOT
from tests.test_gunicorn import GUNICORN, free_port

class Gunicorn:
    """``gunicorn --config gunicorn.conf.py [app]`` with ``env`` on top of the test's environment."""

    def __init__(self, log_path: Path, app: str | None = None, workers: int = 1, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = dict(os.environ, HOST="127.0.0.1", PORT=str(self.port), CLASSIFIER_WORKERS=str(workers),
                       CLASSIFIER_ACCESS_LOG="0", **env)
        self.log_path = log_path
        self.log = log_path.open("w")
        args = [str(GUNICORN), "--config", "gunicorn.conf.py"] + ([app] if app else [])
        self.process = subprocess.Popen(args, cwd=REPO_ROOT, env=environ, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60, path: str = "/readyz") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}: {self.log_path.read_text()[-2000:]}")
            try:
                if requests.get(self.url + path, timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"gunicorn did not become ready: {self.log_path.read_text()[-2000:]}")

    def worker_pids(self) -> set[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return {int(pid) for pid in children.read_text().split()}

    def wait_workers(self, count: int, timeout: float = 60) -> set[int]:
        """The worker processes once the master has forked ``count`` of them: ``wait_ready`` returns as soon as one
        answers, and on a busy machine the next one may not have been forked yet."""
        deadline = time.monotonic() + timeout
        while len(pids := self.worker_pids()) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pids)} of {count} gunicorn workers after {timeout} s")
            time.sleep(0.1)
        return pids

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def raw_request(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send bytes as they are, half-close, and read the whole answer (what arrived before a reset)."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before reading everything (e.g. 413): read that answer
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, body) of the first response in ``raw``."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    while lines and lines[0].startswith("HTTP/1.1 100"):
        lines = lines[2:] if len(lines) > 1 and lines[1] == "" else lines[1:]
    status = int(lines[0].split()[1])
    headers = dict((k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:]))
    return status, headers, body
