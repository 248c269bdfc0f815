"""The servers under test: how each one starts, what request it gets per workload, and how to read its answer.

Every server gets the same image bytes in its own protocol and answers the class and its probability:
this service (its real HTTP contract), the Flask floor and the naive Flask + Keras design (same paths),
PyTriton and MLServer (KServe v2: binary tensor extension / JSON base64), BentoML (multipart upload).
A baseline is this service started from another git revision's checkout (``--baseline REV``).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import Request
from bench.payloads import multipart

REPO = Path(__file__).resolve().parent.parent
VENVS = REPO / "bench" / ".venvs"
MAIN_PY = REPO / ".venv" / "bin" / "python"
PEERS = ("pytriton", "bentoml", "mlserver")
REFERENCES = ("floor", "naive")
# Workload -> the model it exercises; a digit photo goes through the same mnist model as the small digit PNG.
WORKLOADS = {"digit": "mnist", "flower": "flowers", "digit-photo": "mnist"}
FILENAMES = {"digit": ("digit.png", "image/png"), "flower": ("flower.jpg", "image/jpeg"),
             "digit-photo": ("digit-photo.jpg", "image/jpeg")}

Answer = Callable[[str, bytes], tuple[str, float]]


def slug(name: str) -> str:
    """A server name as a file name (``service@origin/main`` -> ``service@origin_main``)."""
    return re.sub(r"[^\w.@+-]", "_", name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _triton_binary(data: bytes) -> tuple[dict[str, str], bytes]:
    tensor = struct.pack("<I", len(data)) + data
    header = json.dumps({
        "inputs": [{"name": "image", "shape": [1, 1], "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(tensor)}}],
        "outputs": [{"name": "label", "parameters": {"binary_data": False}},
                    {"name": "probability", "parameters": {"binary_data": False}}],
    }).encode()
    headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(header))}
    return headers, header + tensor


def _v2_json(data: bytes) -> tuple[dict[str, str], bytes]:
    body = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": [base64.b64encode(data).decode()],
                        "parameters": {"content_type": "base64"}}]}
    return {"Content-Type": "application/json"}, json.dumps(body).encode()


def _v2_answer(workload: str, body: bytes) -> tuple[str, float]:
    outputs = {o["name"]: o["data"] for o in json.loads(body)["outputs"]}
    return str(outputs["label"][0]), float(outputs["probability"][0])


def _flask_answer(workload: str, body: bytes) -> tuple[str, float]:
    j = json.loads(body)
    if "classification" in j:
        return str(j["classification"]), float(j["score"])
    return str(j.get("label", j["prediction"])), float(j["probability"])


def _bentoml_answer(workload: str, body: bytes) -> tuple[str, float]:
    j = json.loads(body)[0]
    return str(j["label"]), float(j["probability"])


@dataclass
class ServerSpec:
    """How to start one server and what to send it."""

    name: str
    kind: str  # "service", "reference" or "peer"
    describe: str
    command: list[str]
    env: dict[str, str]
    requests: dict[str, Request]
    answer: Answer
    setup: Callable[[], None] | None = None
    start_timeout: float = 180.0
    port: int = 0
    cwd: Path = REPO  # a baseline runs from its own checkout


@dataclass
class Running:
    """A started server: its process group, port and log."""

    spec: ServerSpec
    port: int
    process: subprocess.Popen
    log: Path
    started_s: float = 0.0
    rss: list[dict] = field(default_factory=list)

    def url(self, workload: str) -> str:
        return f"http://127.0.0.1:{self.port}{self.spec.requests[workload].path}"

    def post(self, workload: str, timeout: float = 30.0) -> tuple[int, bytes]:
        request = self.spec.requests[workload]
        req = urllib.request.Request(self.url(workload), data=request.body, headers=request.headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def wait_ready(self) -> None:
        """Ready = every workload request answers 200 (the server's own readiness, as a client sees it)."""
        start = time.monotonic()
        deadline = start + self.spec.start_timeout
        pending = list(self.spec.requests)
        while pending:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited with {self.process.returncode}; see {self.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.spec.name} not ready after {self.spec.start_timeout:.0f} s; see {self.log}")
            try:
                status, _ = self.post(pending[0], timeout=5)
            except OSError:
                status = 0
            if status == 200:
                pending.pop(0)
            else:
                time.sleep(0.25)
        self.started_s = time.monotonic() - start

    def memory(self) -> list[dict]:
        """RSS of every process in the server's tree, in MB (name, pid, rss_mb)."""
        import psutil  # in the harness's environment; the project's .venv (which imports this for tests) lacks it

        try:
            root = psutil.Process(self.process.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        rows = []
        for proc in procs:
            try:
                rows.append({"pid": proc.pid, "name": " ".join(proc.cmdline()[:3])[-60:],
                             "rss_mb": round(proc.memory_info().rss / 2**20, 1)})
            except psutil.Error:
                continue
        return rows

    def cpu_seconds(self) -> float:
        """User + system CPU seconds used so far by the server's whole process tree (children included)."""
        import psutil

        try:
            root = psutil.Process(self.process.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0.0
        total = 0.0
        for proc in procs:
            try:
                t = proc.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                continue
        return total

    def alive(self) -> bool:
        return self.process.poll() is None

    def restart(self) -> None:
        """Start the same server again on the same port (someone else on the machine may have stopped it)."""
        self.stop()
        if self.spec.setup:
            self.spec.setup()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.spec.command, cwd=self.spec.cwd,
                                            env=dict(os.environ, **self.spec.env),
                                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_ready()

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, 15)
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
            except ProcessLookupError:
                pass


def start(spec: ServerSpec, logs: Path) -> Running:
    """Start ``spec`` in its own process group and wait until it answers every workload."""
    if spec.setup:
        spec.setup()
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{slug(spec.name)}.log"
    env = dict(os.environ, **spec.env)
    with log.open("ab") as out:
        process = subprocess.Popen(spec.command, cwd=spec.cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    running = Running(spec, spec.port, process, log)
    try:
        running.wait_ready()
    except BaseException:
        running.stop()
        raise
    return running


def build_specs(models_dir: Path, payloads: dict[str, Path], work: Path, names: list[str],
                variants: dict[str, dict[str, str]], baselines: dict[str, Path] | None = None) -> list[ServerSpec]:
    """ServerSpecs for ``names`` (plus service variants and baselines: server name -> checkout), each with the free
    port it will listen on. Each server gets one request per workload in ``payloads``."""
    data = {w: path.read_bytes() for w, path in payloads.items()}

    def flask_request(workload: str) -> Request:
        if WORKLOADS[workload] == "mnist":
            return Request("/mnist/classify", *multipart(data[workload], *FILENAMES[workload]))
        return Request(f"/predict?model={WORKLOADS[workload]}", {"Content-Type": "image/jpeg"}, data[workload])

    flask_requests = {w: flask_request(w) for w in data}
    pythonpath = {"PYTHONPATH": str(REPO), "BENCH_MODELS_DIR": str(models_dir)}
    gunicorn = str(REPO / ".venv" / "bin" / "gunicorn")
    gunicorn_conf = ["--config", "gunicorn.conf.py", "--no-control-socket"]
    specs: list[ServerSpec] = []
    ports: dict[str, int] = {}

    def port_for(name: str) -> int:
        ports[name] = free_port()
        return ports[name]

    def service(name: str, extra_env: dict[str, str], describe: str, cwd: Path = REPO) -> ServerSpec:
        p = port_for(name)
        env = {"HOST": "127.0.0.1", "PORT": str(p), "CLASSIFIER_MODELS_DIR": str(models_dir),
               "CLASSIFIER_MODELS": "mnist,flowers", "CLASSIFIER_ACCESS_LOG": "0", **extra_env}
        if cwd != REPO:  # import that checkout's service and app, not the one the venv has installed (editable)
            env["PYTHONPATH"] = str(cwd)
        return ServerSpec(name, "service", describe, [gunicorn, *gunicorn_conf], env,
                          flask_requests, _flask_answer, cwd=cwd)

    for name in names:
        if name == "service":
            specs.append(service("service", {}, "this service: gunicorn --config gunicorn.conf.py (defaults, access log off)"))
        elif name == "floor":
            p = port_for(name)
            env = {"HOST": "127.0.0.1", "PORT": str(p), "CLASSIFIER_ACCESS_LOG": "0", **pythonpath}
            specs.append(ServerSpec(name, "reference", "Flask view answering fixed JSON, same gunicorn.conf.py",
                                    [gunicorn, *gunicorn_conf, "bench.servers.floor:app"], env,
                                    flask_requests, _flask_answer))
        elif name == "naive":
            p = port_for(name)
            specs.append(ServerSpec(name, "reference", "Flask + Keras model.predict per request, gunicorn -w 2 (sync)",
                                    [gunicorn, "-w", "2", "-b", f"127.0.0.1:{p}", "--timeout", "120",
                                     "--no-control-socket", "bench.servers.naive:create_app()"],
                                    pythonpath, flask_requests, _flask_answer))
        elif name == "pytriton":
            p, workspace = port_for(name), work / "pytriton-workspace"
            py = str(VENVS / "pytriton" / "bin" / "python")
            specs.append(ServerSpec(
                name, "peer", "PyTriton 0.7.0 (Triton 2.51), dynamic batching max 32 / 1 ms, 2 instances",
                [py, "-m", "bench.servers.pytriton_server", "--port", str(p), "--grpc-port", str(free_port()),
                 "--metrics-port", str(free_port()), "--workspace", str(workspace)], pythonpath,
                {w: Request(f"/v2/models/{WORKLOADS[w]}/infer", *_triton_binary(d)) for w, d in data.items()},
                _v2_answer, setup=lambda ws=workspace: shutil.rmtree(ws, ignore_errors=True)))
        elif name == "mlserver":
            p, folder = port_for(name), work / "mlserver-settings"
            py = str(VENVS / "mlserver" / "bin" / "python")
            setup_cmd = [py, "-m", "bench.servers.mlserver_runtime", "--out", str(folder), "--port", str(p),
                         "--grpc-port", str(free_port()), "--metrics-port", str(free_port())]
            specs.append(ServerSpec(
                name, "peer", "MLServer 1.7.1, adaptive batching max 32 / 1 ms, 2 parallel workers",
                [str(VENVS / "mlserver" / "bin" / "mlserver"), "start", str(folder)], pythonpath,
                {w: Request(f"/v2/models/{WORKLOADS[w]}/infer", *_v2_json(d)) for w, d in data.items()},
                _v2_answer,
                setup=lambda cmd=setup_cmd: subprocess.run(cmd, check=True, cwd=REPO,
                                                           env=dict(os.environ, **pythonpath))))
        elif name == "bentoml":
            p = port_for(name)
            env = dict(pythonpath, BENTOML_HOME=str(work / "bentoml-home"), BENTOML_DO_NOT_TRACK="True")
            specs.append(ServerSpec(
                name, "peer", "BentoML 1.4.36, adaptive batching max 32, 2 workers",
                [str(VENVS / "bentoml" / "bin" / "bentoml"), "serve", "bench.servers.bentoml_service:Classifier",
                 "--host", "127.0.0.1", "--port", str(p)], env,
                {w: Request(f"/{WORKLOADS[w]}", *multipart(d, *FILENAMES[w])) for w, d in data.items()},
                _bentoml_answer))
        else:
            raise SystemExit(f"unknown server {name!r}")
    for variant, extra in variants.items():
        specs.append(service(variant, extra, "this service with " + " ".join(f"{k}={v}" for k, v in extra.items())))
    for baseline, checkout in (baselines or {}).items():
        where = checkout.relative_to(REPO) if checkout.is_relative_to(REPO) else checkout
        specs.append(service(baseline, {}, f"this service at {baseline.partition('@')[2]}, from its checkout {where} "
                                           "(same settings, models and .venv)", cwd=checkout))
    for spec in specs:
        spec.port = ports[spec.name]
    return specs


def python_for(name: str) -> str:
    """The interpreter a server runs under (for the report)."""
    return str(VENVS / name / "bin" / "python") if name in PEERS else sys.executable
