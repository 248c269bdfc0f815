"""Unchanged third-party clients against a real gunicorn (two workers) serving the shipped models on loopback.

tritonclient[http] and kserve's InferenceRESTClient (v1 and v2) speak to the service as they would to Triton or
KServe; /metrics must count the requests of both workers; the JSON log format must hold on every line.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests

from service.config import REPO_ROOT
from service.inference import Manifest, Model
from tests.conftest import MODELS_DIR
from tests.test_gunicorn import Server

PHOTO_7 = REPO_ROOT / "test-data" / "photos" / "tuned-017.jpg"
MNIST_7 = REPO_ROOT / "test-data" / "special" / "mnist28-7.png"


def wait_ready(srv: Server, timeout: float = 90) -> None:
    """Until every worker could answer /readyz (the master listens before its workers have loaded the models)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if srv.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {srv.process.returncode}; see {srv.log.name}")
        try:
            if requests.get(srv.url + "/readyz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError("gunicorn did not become ready")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("live")
    srv = Server(MODELS_DIR, folder / "server.log", CLASSIFIER_MODELS="mnist,flowers", CLASSIFIER_WORKERS="2",
                 CLASSIFIER_LOG_FORMAT="json", CLASSIFIER_METRICS_DIR=str(folder / "metrics"))
    srv.metrics_dir = folder / "metrics"
    try:
        wait_ready(srv)
    except BaseException:
        srv.stop()
        raise
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def mnist_tensor() -> np.ndarray:
    """A preprocessed digit, made by the service's own preprocessing: (1, 28, 28, 1) float32."""
    model = Model.load(Manifest.load(sorted((MODELS_DIR / "mnist").glob("*/manifest.json"))[-1].parent))
    return model.prepare(MNIST_7.read_bytes(), 10_000_000)[np.newaxis]


# --- tritonclient[http] -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def triton(server):
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(url=server.url.removeprefix("http://"))
    yield client
    client.close()


def test_triton_live_ready_and_metadata(triton):
    assert triton.is_server_live() and triton.is_server_ready()
    assert triton.is_model_ready("mnist")
    meta = triton.get_model_metadata("mnist")
    shipped = sorted((d.name for d in (MODELS_DIR / "mnist").iterdir() if d.name.isdigit()), key=int, reverse=True)
    assert meta["name"] == "mnist" and meta["versions"] == shipped
    assert {"name": "input", "datatype": "FP32", "shape": [-1, 28, 28, 1]} in meta["inputs"]
    assert triton.get_server_metadata()["extensions"] == ["binary_tensor_data", "classification"]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_triton_infer_tensor(triton, mnist_tensor, binary):
    import tritonclient.http as httpclient

    batch = np.concatenate([mnist_tensor, mnist_tensor])
    tensor = httpclient.InferInput("input", list(batch.shape), "FP32")
    tensor.set_data_from_numpy(batch, binary_data=binary)
    output = httpclient.InferRequestedOutput("probabilities", binary_data=binary)
    result = triton.infer("mnist", [tensor], outputs=[output])
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (2, 10)
    assert np.argmax(probabilities, axis=1).tolist() == [7, 7]


def test_triton_infer_encoded_photo_with_classification(triton):
    import tritonclient.http as httpclient

    images = np.array([PHOTO_7.read_bytes()], dtype=np.object_)
    tensor = httpclient.InferInput("image", [1], "BYTES")
    tensor.set_data_from_numpy(images, binary_data=True)
    output = httpclient.InferRequestedOutput("probabilities", binary_data=True, class_count=3)
    result = triton.infer("mnist", [tensor], outputs=[output])
    top = result.as_numpy("probabilities")
    assert top.shape == (1, 3)
    score, index, label = top[0, 0].decode().split(":")
    assert (index, label) == ("7", "7") and 0.5 < float(score) <= 1


def test_triton_error_is_an_exception_with_the_message(triton):
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    tensor = httpclient.InferInput("input", [1, 5], "FP32")
    tensor.set_data_from_numpy(np.zeros((1, 5), np.float32))
    with pytest.raises(InferenceServerException, match=r"shape \[N, 28, 28, 1\]"):
        triton.infer("mnist", [tensor])


# --- kserve's InferenceRESTClient ---------------------------------------------------------------------------------


def run_async(coroutine):
    """asyncio.run in a fresh thread: another test's library (Playwright's sync API) may own this thread's loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=120)


def _kserve(protocol: str):
    from kserve import InferenceRESTClient, RESTConfig

    return InferenceRESTClient(RESTConfig(protocol=protocol, retries=0, timeout=30))


def test_kserve_v2_client(server, mnist_tensor):
    from kserve import InferInput, InferRequest

    async def run():
        client = _kserve("v2")
        try:
            live = await client.is_server_live(server.url)
            ready = await client.is_server_ready(server.url)
            model_ready = await client.is_model_ready(server.url, "mnist")
            tensor = InferInput("input", list(mnist_tensor.shape), "FP32")
            tensor.set_data_from_numpy(mnist_tensor, binary_data=False)
            json_answer = await client.infer(server.url, InferRequest("mnist", [tensor]), model_name="mnist")
            photo = InferInput("image", [1], "BYTES")
            photo.set_data_from_numpy(np.array([PHOTO_7.read_bytes()], dtype=np.object_), binary_data=True)
            binary_answer = await client.infer(server.url, InferRequest("mnist", [photo]), model_name="mnist")
            return live, ready, model_ready, json_answer, binary_answer
        finally:
            await client.close()

    live, ready, model_ready, json_answer, binary_answer = run_async(run())
    assert live and ready and model_ready
    for answer in (json_answer, binary_answer):
        probabilities = answer.outputs[0].as_numpy()
        assert probabilities.shape == (1, 10) and int(np.argmax(probabilities)) == 7


def test_kserve_v1_client(server, mnist_tensor):
    async def run():
        client = _kserve("v1")
        try:
            assert await client.is_server_live(server.url) is True
            ready = await client.is_model_ready(server.url, "mnist")
            answer = await client.infer(server.url, {"instances": mnist_tensor.tolist()}, model_name="mnist")
            return ready, answer
        finally:
            await client.close()

    ready, answer = run_async(run())
    assert ready is True
    assert answer["predictions"][0]["classes"] == 7


# --- TF Serving with plain HTTP -----------------------------------------------------------------------------------


def test_tfserving_predict_b64_photo(server):
    import base64

    body = {"instances": [{"b64": base64.b64encode(PHOTO_7.read_bytes()).decode()}]}
    answer = requests.post(server.url + "/v1/models/mnist:predict", json=body, timeout=30).json()
    assert answer["predictions"][0]["classes"] == 7


# --- metrics across workers, JSON logs ----------------------------------------------------------------------------


def _requests_total(text: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("classifier_http_request_duration_seconds_count") and 'route="/healthz"' in line)


def test_metrics_count_requests_from_both_workers(server):
    before = _requests_total(requests.get(server.url + "/metrics", timeout=10).text)
    sent = 0
    with ThreadPoolExecutor(8) as pool:
        for _ in range(20):  # until both workers have answered (each writes its own counter file)
            statuses = list(pool.map(lambda _: requests.get(server.url + "/healthz", timeout=10).status_code,
                                     range(16)))
            assert set(statuses) == {200}
            sent += len(statuses)
            pids = {re.search(r"_(\d+)\.db$", p.name).group(1) for p in server.metrics_dir.glob("histogram_*.db")}
            if len(pids) >= 2:
                break
    assert len(pids) >= 2, f"only worker(s) {pids} answered {sent} requests"
    after = _requests_total(requests.get(server.url + "/metrics", timeout=10).text)
    assert after - before == sent


def test_json_logs_one_object_per_line_with_request_id_and_duration(server):
    requests.get(server.url + "/v1/models/mnist", headers={"X-Request-ID": "live-77"}, timeout=10)
    bad = requests.post(server.url + "/predict", data=b"junk", headers={"Content-Type": "image/png",
                                                                        "X-Request-ID": "live-78"}, timeout=10)
    assert bad.status_code == 415 and bad.headers["X-Request-ID"] == "live-78"
    time.sleep(0.5)
    # Every line Python writes is one JSON object; LiteRT's C++ library prints its own "INFO: Created TensorFlow
    # Lite XNNPACK delegate" lines to stderr, outside Python's logging.
    lines = [line for line in Path(server.log.name).read_text().splitlines() if not line.startswith("INFO: Created")]
    entries = [json.loads(line) for line in lines]
    access = [e for e in entries if e["logger"] == "gunicorn.access" and e["request_id"] == "live-77"]
    assert len(access) == 1 and access[0]["status"] == 200 and access[0]["duration_ms"] >= 0
    tagged = [e for e in entries if e["request_id"] == "live-78"]
    assert {e["logger"] for e in tagged} == {"gunicorn.access", "service.errors"}
    assert any(e["logger"] == "gunicorn.error" for e in entries)


def test_a_dead_workers_live_gauge_file_is_removed(server):
    """child_exit marks the worker dead: its in-flight gauge file goes, so /metrics no longer sums a ghost."""
    def live_pids() -> set[int]:
        return {int(re.search(r"_(\d+)\.db$", p.name).group(1)) for p in server.metrics_dir.glob("gauge_livesum_*.db")}

    pids = live_pids() - {server.process.pid}  # the master imported the metrics too: its gauges are zero
    assert len(pids) == 2
    victim = min(pids)
    os.kill(victim, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while victim in live_pids() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert victim not in live_pids()
    wait_ready(server)
    assert "classifier_http_requests_in_flight" in requests.get(server.url + "/metrics", timeout=10).text
