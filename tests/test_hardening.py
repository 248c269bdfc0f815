"""Defects found by trying the service as an operator would, each on a real gunicorn with the shipped mnist model."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
import requests

from scripts import slow_clients
from tests.conftest import MODELS_DIR
from tests.gunicorn_server import Gunicorn, raw_request, split_response


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    srv = Gunicorn(tmp_path_factory.mktemp("gunicorn") / "server.log", workers=1, HOME=str(home),
                   XDG_RUNTIME_DIR="", CLASSIFIER_MODELS_DIR=str(MODELS_DIR), CLASSIFIER_MODELS="mnist")
    srv.wait_ready()
    srv.home = home
    yield srv
    srv.stop()


def multipart(boundary: bytes, payload: bytes, name: bytes = b"image", filename: bytes = b"digit.png") -> bytes:
    return (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"" + name + b"\"; filename=\"" + filename
            + b"\"\r\nContent-Type: image/png\r\n\r\n" + payload + b"\r\n--" + boundary + b"--\r\n")


def post(port: int, path: str, content_type: bytes, body: bytes, extra: bytes = b"") -> tuple[int, dict, dict]:
    raw = raw_request(port, b"POST " + path.encode() + b" HTTP/1.1\r\nHost: t\r\nContent-Type: " + content_type
                      + b"\r\nContent-Length: %d\r\n" % len(body) + extra + b"\r\n" + body)
    status, headers, payload = split_response(raw)
    return status, headers, json.loads(payload)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes its end."""
    raw = b""
    while chunk := sock.recv(65536):
        raw += chunk
    return raw


def connect_and_send(port: int, data: bytes) -> socket.socket:
    """A raw client connection to the server that has sent ``data``."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(data)
    return sock


def chunked(body: bytes, size: int = 65536) -> bytes:
    pieces = [b"%x\r\n" % len(body[i:i + size]) + body[i:i + size] + b"\r\n" for i in range(0, len(body), size)]
    return b"".join(pieces) + b"0\r\n\r\n"


def test_rfc2231_boundary_is_understood(server, digit_png):
    body = multipart(b"xyz", digit_png)
    status, _, answer = post(server.port, "/predict", b"multipart/form-data; boundary*=UTF-8''xyz", body)
    assert status == 200 and answer["prediction"] == 7


@pytest.mark.parametrize("path, expected", [("/predict", 400), ("/mnist/classify", 404)])
def test_non_ascii_rfc2231_boundary_is_a_clear_client_error(server, digit_png, path, expected):
    body = multipart(b"\xe2\x82\xacxyz", digit_png)
    status, headers, answer = post(server.port, path, b"multipart/form-data; boundary*=UTF-8''%E2%82%ACxyz", body)
    assert status == expected and headers["content-type"] == "application/json"
    assert "boundary" in answer["error"]


def test_invalid_chunk_size_is_400_json(server):
    raw = raw_request(server.port, b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
    status, headers, body = split_response(raw)
    assert status == 400 and headers["content-type"] == "application/json"
    assert "chunk" in json.loads(body)["error"]


def test_chunked_upload_over_the_limit_is_413(server):
    body = b"\xff\xd8\xff" + b"\0" * (10 * 1024 * 1024 + 100)
    raw = raw_request(server.port, b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/jpeg\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body), timeout=30)
    status, _, payload = split_response(raw)
    assert status == 413
    assert json.loads(payload)["error"] == "the request body is larger than the limit of 10,485,760 bytes"


def test_chunked_upload_under_the_limit_is_classified(server, digit_png):
    raw = raw_request(server.port, b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n" + chunked(digit_png, 1000))
    status, _, payload = split_response(raw)
    assert status == 200 and json.loads(payload)["prediction"] == 7


def test_too_many_form_parts_says_so(server):
    parts = b"".join(b"--xyz\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv\r\n" % i for i in range(1100))
    body = parts + b"--xyz--\r\n"
    assert len(body) < 100_000
    status, _, answer = post(server.port, "/predict", b"multipart/form-data; boundary=xyz", body)
    assert status == 413
    assert "more than 1,000 parts" in answer["error"] and "larger than" not in answer["error"]


@pytest.mark.parametrize("request_bytes, status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414),
    (b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
    (b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(150)) + b"\r\n", 431),
    (b"GET /healthz HTTP/9.9\r\nHost: t\r\n\r\n", 400),
])
def test_server_level_errors_are_json(server, request_bytes, status):
    got, headers, body = split_response(raw_request(server.port, request_bytes))
    assert got == status and headers["content-type"] == "application/json"
    answer = json.loads(body)
    assert answer["status"] == status and answer["error"] and answer["code"]


def test_no_shared_control_socket(server):
    """gunicorn's control socket would be ~/.gunicorn/gunicorn.ctl, one per user: two instances collide."""
    assert not (Path(server.home) / ".gunicorn" / "gunicorn.ctl").exists()
    assert "Control socket" not in server.log_path.read_text()


def test_control_socket_on_request_is_per_instance(tmp_path):
    path = tmp_path / "one.ctl"
    srv = Gunicorn(tmp_path / "server.log", HOME=str(tmp_path), CLASSIFIER_CONTROL_SOCKET=str(path),
                   CLASSIFIER_MODELS_DIR=str(MODELS_DIR), CLASSIFIER_MODELS="mnist")
    try:
        srv.wait_ready()
        deadline = time.monotonic() + 10
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert path.exists()
    finally:
        srv.stop()


def test_slow_clients_do_not_stall_normal_requests(server, digit_png):
    """50 connections trickle headers or bodies; every normal request meanwhile is answered (plain gthread: none).

    The share answered within 1 s is printed (run with -s), not asserted: timings depend on the machine.
    """
    report = slow_clients.run(server.url, slow=50, seconds=4, clients=2, interval=0.5, image=digit_png)
    print("slow-client check:", report)
    assert report["slow_connections"] == 50
    assert report["normal_requests"] > 0 and report["answered_200"] == report["normal_requests"]


def test_pipelined_requests_are_all_answered(server):
    """Two requests in one packet: the buffered second one is served too, not left waiting for the socket."""
    body = b"\0" * 20_000  # longer than gunicorn's first read, so the second request stays in the worker's buffer
    first = b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\nContent-Length: 20000\r\n\r\n" + body
    second = b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(first + second)
        raw = read_until_closed(sock)
    assert raw.startswith(b"HTTP/1.1 415") and raw.count(b"HTTP/1.1 200") == 1


def test_slow_header_connection_is_closed_with_408(tmp_path):
    srv = Gunicorn(tmp_path / "server.log", CLASSIFIER_MODELS_DIR=str(MODELS_DIR), CLASSIFIER_MODELS="mnist",
                   CLASSIFIER_HEADER_TIMEOUT="1")
    try:
        srv.wait_ready()
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHo")
            raw = sock.recv(65536)
        status, headers, body = split_response(raw)
        assert status == 408 and json.loads(body)["code"] == "request_timeout"
    finally:
        srv.stop()


def test_request_waiting_too_long_for_a_thread_gets_503(tmp_path, digit_png):
    """One thread, a model that takes 3 s, a 1.5 s limit: requests queued behind the first are refused with 503."""
    srv = Gunicorn(tmp_path / "server.log", app="tests.apps:slow_app()", CLASSIFIER_THREADS="1",
                   CLASSIFIER_TEST_MODEL_SECONDS="3", CLASSIFIER_REQUEST_TIMEOUT="1.5")
    try:
        srv.wait_ready()
        from concurrent.futures import ThreadPoolExecutor

        def one(_):
            return requests.post(srv.url + "/predict", data=digit_png, headers={"Content-Type": "image/png"},
                                 timeout=30)

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(one, range(4)))
        statuses = sorted(a.status_code for a in answers)
        assert 200 in statuses and 503 in statuses, statuses
        refused = next(a for a in answers if a.status_code == 503).json()
        assert refused["code"] == "request_timeout" and "limit of 1.5 s" in refused["error"]
        assert requests.get(srv.url + "/healthz", timeout=5).status_code == 200
    finally:
        srv.stop()


def test_kept_alive_connections_trickling_their_next_request_hold_no_thread(server):
    """12 kept-alive connections (3 times the worker's threads) send half of their second request's head; a normal
    request is still answered, and each trickled request is answered once its last bytes arrive."""
    first = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
    second = b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    conns = []
    try:
        for _ in range(12):
            sock = connect_and_send(server.port, first)
            conns.append(sock)
            answer = b""
            while not answer.endswith(b"}\n"):  # head and body may come in two reads
                answer += sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200")
            sock.sendall(second[:20])
        time.sleep(0.5)  # every connection's first bytes have reached the worker
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
        for sock in conns:
            sock.sendall(second[20:])
        for sock in conns:
            assert read_until_closed(sock).startswith(b"HTTP/1.1 200")
    finally:
        for sock in conns:
            sock.close()


def test_clients_keeping_their_end_open_after_connection_close_do_not_stall_the_worker(server):
    """gunicorn closes a connection by draining it until the client closes, for up to 2 s, in the worker's event
    loop: five clients that keep their end open after a ``Connection: close`` answer stalled every other
    connection of the worker for up to 10 s. The worker drains them from its loop instead."""
    request = b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    lingering = []
    try:
        for _ in range(5):
            lingering.append(connect_and_send(server.port, request))
        time.sleep(0.3)  # the five answers are sent and their connections are being closed
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
        for sock in lingering:
            assert read_until_closed(sock).startswith(b"HTTP/1.1 200")
    finally:
        for sock in lingering:
            sock.close()
