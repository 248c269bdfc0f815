"""tritonclient[http] and kserve from a fresh virtual environment against ``make serve`` (slow; CI runs it).

tests/test_live_protocols.py drives the same clients from the project's own environment, where Flask, the service
and their pins sit beside them. Here the clients are installed into a new venv with pip, as a user of Triton or
KServe would install them, so an answer that decodes only with something the project's environment happens to hold,
or a client pin that installs only beside the project's pins, shows. Packages come from the
wheelhouse `make test` fills beforehand (`.venv/wheelhouse`), so the test itself needs no network.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import venv
from pathlib import Path

import numpy as np
import pytest

from service.config import REPO_ROOT
from tests import test_live_protocols, test_real_digits
from tests.conftest import MODELS_DIR
from tests.test_live_protocols import PHOTO_7
from tests.test_package import wheelhouse

pytestmark = pytest.mark.slow

# Shared fixtures: the service started by `make serve` on a free loopback port, and a digit 7 preprocessed by the
# service's own preprocessing, (1, 28, 28, 1) float32.
make_serve = test_real_digits.make_serve
mnist_tensor = test_live_protocols.mnist_tensor

# The client pins the project tests with, read from requirements-dev.txt so the two tests cannot drift apart.
CLIENTS = ("tritonclient", "kserve", "greenlet")


def client_pins(requirements: Path = REPO_ROOT / "requirements-dev.txt") -> list[str]:
    """The ``name[extras]==version`` lines of requirements-dev.txt for the client packages (greenlet: see there)."""
    pins = []
    for line in requirements.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if re.split(r"[\[=<>~! ]", requirement, maxsplit=1)[0].lower() in CLIENTS:
            pins.append(requirement)
    assert len(pins) == len(CLIENTS), f"requirements-dev.txt pins {pins}, expected one line for each of {CLIENTS}"
    return pins


def run(python: Path, args: list[str], cwd: Path, timeout: float,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python args`` outside the repository, by default with a bare environment (no PYTHONPATH, no venv of ours)."""
    bare = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(cwd))}
    return subprocess.run([str(python), *args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env=bare if env is None else env)


@pytest.fixture(scope="session")
def client_python(tmp_path_factory) -> Path:
    """A new venv (stdlib ``venv`` with its own pip) holding only the two clients and what they depend on.

    ``-c requirements.txt`` keeps shared dependencies (numpy, requests, ...) on the project's pins, as
    tests/test_package.py does; the constraint installs nothing by itself. Wheels come from the wheelhouse only
    (``--no-index``). ``--no-compile``: the venv lives for one session, and compiling
    every module of kubernetes and the rest up front took longer than compiling the few the script imports.
    """
    env_dir = tmp_path_factory.mktemp("fresh-clients") / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = run(python, ["-m", "pip", "install", "--quiet", "--no-compile", "--no-index", "--find-links",
                           str(wheelhouse()),
                           "-c", str(REPO_ROOT / "requirements.txt"), *client_pins()],
                  cwd=env_dir, timeout=1200, env=dict(os.environ))
    assert install.returncode == 0, install.stderr[-3000:]
    return python


def test_the_fresh_venv_holds_the_clients_and_nothing_of_the_project(client_python):
    code = ("import importlib.util as u, json; print(json.dumps({m: u.find_spec(m) is not None for m in "
            "('tritonclient.http', 'kserve', 'flask', 'service', 'gunicorn', 'tensorflow')}))")
    done = run(client_python, ["-c", code], cwd=client_python.parent, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"tritonclient.http": True, "kserve": True, "flask": False, "service": False,
                                       "gunicorn": False, "tensorflow": False}


# Run by the fresh venv's python: argv = base URL, .npy of a preprocessed digit (1, 28, 28, 1), a photo of a 7.
CLIENT_SCRIPT = r'''
import asyncio
import json
import sys

import numpy as np
import tritonclient.http as httpclient
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

url, tensor_path, photo_path = sys.argv[1:4]
tensor = np.load(tensor_path)
photo = np.array([open(photo_path, "rb").read()], dtype=np.object_)
out = {}

triton = httpclient.InferenceServerClient(url=url.removeprefix("http://"))
out["triton"] = {
    "live": triton.is_server_live(), "ready": triton.is_server_ready(), "model_ready": triton.is_model_ready("mnist"),
    "server": triton.get_server_metadata(), "metadata": triton.get_model_metadata("mnist"),
}


def triton_infer(name, datatype, data, binary_input, binary_output, class_count=0):
    tensor_in = httpclient.InferInput(name, list(data.shape), datatype)
    tensor_in.set_data_from_numpy(data, binary_data=binary_input)
    wanted = httpclient.InferRequestedOutput("probabilities", binary_data=binary_output, class_count=class_count)
    result = triton.infer("mnist", [tensor_in], outputs=[wanted])
    answer = result.as_numpy("probabilities")
    values = [[v.decode() for v in row] for row in answer] if answer.dtype == np.object_ else answer.tolist()
    return {"version": result.get_response()["model_version"], "shape": list(answer.shape), "values": values}


out["triton"]["tensor_json"] = triton_infer("input", "FP32", tensor, False, False)
out["triton"]["tensor_binary"] = triton_infer("input", "FP32", tensor, True, True)
out["triton"]["photo_json"] = triton_infer("image", "BYTES", photo, True, False)
out["triton"]["photo_binary"] = triton_infer("image", "BYTES", photo, True, True)
out["triton"]["photo_top3"] = triton_infer("image", "BYTES", photo, True, True, class_count=3)
triton.close()


async def kserve_calls():
    v2 = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=30))
    v1 = InferenceRESTClient(RESTConfig(protocol="v1", retries=0, timeout=30))
    try:
        json_in = InferInput("input", list(tensor.shape), "FP32")
        json_in.set_data_from_numpy(tensor, binary_data=False)
        photo_in = InferInput("image", [1], "BYTES")
        photo_in.set_data_from_numpy(photo, binary_data=True)
        answers = {}
        for key, tensor_in in (("tensor_json", json_in), ("photo_binary", photo_in)):
            response = await v2.infer(url, InferRequest("mnist", [tensor_in]), model_name="mnist")
            probabilities = response.outputs[0].as_numpy()
            # kserve's InferResponse.from_bytes keeps the model's name and drops its version.
            answers[key] = {"model": response.model_name, "shape": list(probabilities.shape),
                            "values": probabilities.tolist()}
        v1_answer = await v1.infer(url, {"instances": tensor.tolist()}, model_name="mnist")
        return {
            "v2": {"live": await v2.is_server_live(url), "ready": await v2.is_server_ready(url),
                   "model_ready": await v2.is_model_ready(url, "mnist"), **answers},
            "v1": {"live": await v1.is_server_live(url), "model_ready": await v1.is_model_ready(url, "mnist"),
                   "infer": v1_answer},
        }
    finally:
        await v2.close()
        await v1.close()


out["kserve"] = asyncio.run(kserve_calls())
print(json.dumps(out))
'''


def shipped_versions(name: str = "mnist") -> list[str]:
    return sorted((d.name for d in (MODELS_DIR / name).iterdir() if d.name.isdigit()), key=int, reverse=True)


def test_tritonclient_and_kserve_from_a_fresh_venv_against_make_serve(client_python, make_serve, mnist_tensor,
                                                                     tmp_path):
    script, tensor_file = tmp_path / "clients.py", tmp_path / "digit-7.npy"
    script.write_text(CLIENT_SCRIPT)
    np.save(tensor_file, mnist_tensor)
    done = run(client_python, [str(script), make_serve, str(tensor_file), str(PHOTO_7)], cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    latest = shipped_versions()[0]

    triton = out["triton"]
    assert triton["live"] is triton["ready"] is triton["model_ready"] is True
    assert triton["server"]["extensions"] == ["binary_tensor_data", "classification"]
    meta = triton["metadata"]
    assert meta["name"] == "mnist" and meta["versions"] == shipped_versions()
    assert {"name": "input", "datatype": "FP32", "shape": [-1, 28, 28, 1]} in meta["inputs"]
    for key in ("tensor_json", "tensor_binary", "photo_json", "photo_binary"):
        answer = triton[key]
        assert (answer["version"], answer["shape"]) == (latest, [1, 10]), key
        assert int(np.argmax(answer["values"][0])) == 7, (key, answer["values"])
        assert sum(answer["values"][0]) == pytest.approx(1, abs=1e-3), key
    top3 = triton["photo_top3"]
    assert top3["shape"] == [1, 3]
    score, index, label = top3["values"][0][0].split(":")
    assert (index, label) == ("7", "7") and 0.5 < float(score) <= 1

    v2, v1 = out["kserve"]["v2"], out["kserve"]["v1"]
    assert v2["live"] is v2["ready"] is v2["model_ready"] is True
    for key in ("tensor_json", "photo_binary"):
        answer = v2[key]
        assert (answer["model"], answer["shape"]) == ("mnist", [1, 10]), key
        assert int(np.argmax(answer["values"][0])) == 7, (key, answer["values"])
    assert v1["live"] is v1["model_ready"] is True
    (prediction,) = v1["infer"]["predictions"]
    assert prediction["classes"] == 7 and len(prediction["probabilities"]) == 10

