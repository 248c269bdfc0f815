"""SIGTERM on a real gunicorn: readiness turns 503, new connections are refused at once, in-flight requests finish."""

from __future__ import annotations

import socket
import threading
import time

import requests

from tests.gunicorn_server import Gunicorn


def test_sigterm_drains_in_flight_refuses_new_and_reports_not_ready(tmp_path, digit_png):
    srv = Gunicorn(tmp_path / "server.log", app="tests.apps:slow_app()", CLASSIFIER_TEST_MODEL_SECONDS="3")
    try:
        srv.wait_ready()
        balancer = requests.Session()  # a kept-alive connection, as a balancer's health checks use
        assert balancer.get(srv.url + "/readyz", timeout=5).status_code == 200
        in_flight: list[requests.Response] = []
        request = threading.Thread(target=lambda: in_flight.append(requests.post(
            srv.url + "/predict", data=digit_png, headers={"Content-Type": "image/png"}, timeout=30)))
        request.start()
        time.sleep(1.0)  # the request is inside the model now
        srv.terminate()
        time.sleep(0.3)

        ready = balancer.get(srv.url + "/readyz", timeout=5)
        assert ready.status_code == 503 and ready.json()["status"] == "stopping"

        start = time.monotonic()
        try:
            socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()
            refused = False
        except ConnectionRefusedError:
            refused = True
        assert refused, "a new connection was accepted after SIGTERM"
        assert time.monotonic() - start < 5  # refused, not left waiting in the backlog

        request.join(timeout=30)
        assert in_flight and in_flight[0].status_code == 200 and in_flight[0].json()["prediction"] == 7
        assert srv.process.wait(timeout=25) == 0
    finally:
        srv.stop()
