"""The benchmark's own moving parts: wrk driven through the generated Lua script on a real loopback server,
the multipart body it sends, and the report's target arithmetic. (The benchmark itself is `make bench`.)"""

from __future__ import annotations

import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.load import Request, run_wrk, write_script
from bench.payloads import multipart
from bench.report import render


class _Echo(BaseHTTPRequestHandler):
    """Answers 200 when the body is the expected one, 400 otherwise (so a wrong body shows as errors)."""

    protocol_version = "HTTP/1.1"
    expected = b""

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = body == self.expected and self.headers["Content-Type"] == "image/png"
        answer = b'{"ok": true}' if ok else b'{"ok": false}'
        self.send_response(200 if ok else 400)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args) -> None:
        pass


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")
@pytest.mark.parametrize("body_ok", [True, False])
def test_wrk_posts_the_exact_body_and_counts_errors(tmp_path, body_ok):
    _Echo.expected = b"\x89PNG body \x00\xff bytes"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sent = _Echo.expected if body_ok else b"something else"
        script = write_script(Request("/x", {"Content-Type": "image/png"}, sent), tmp_path, "echo")
        result = run_wrk(f"http://127.0.0.1:{server.server_port}/x", script, connections=2, seconds=1, threads=1)
    finally:
        server.shutdown()
        server.server_close()
    assert result.requests > 0
    assert (result.errors == 0) if body_ok else (result.errors == result.requests)


def test_multipart_body_carries_the_file_in_field_image():
    headers, body = multipart(b"\x00PNGDATA\r\n", "digit.png", "image/png")
    boundary = headers["Content-Type"].split("boundary=")[1]
    assert body.startswith(f"--{boundary}\r\n".encode())
    assert b'name="image"; filename="digit.png"' in body
    assert b"\r\n\r\n\x00PNGDATA\r\n\r\n--" + boundary.encode() + b"--\r\n" in body


def _results(service_rps: float, peer_rps: float) -> dict:
    def row(rps: float, p99: float, cpu: float) -> dict:
        return {"16": {"rps": rps, "p50_ms": 1.0, "p99_ms": p99, "errors": 0, "requests": 100, "cpu_ms": cpu,
                       "rounds_rps": [rps]}}

    summary = {
        "service": {"digit": row(service_rps, 5.0, 0.5)},
        "pytriton": {"digit": row(peer_rps, 9.0, 1.0)},
        "floor": {"digit": row(2 * service_rps, 2.0, 0.3)},
    }
    servers = {name: {"describe": name, "ready_s": 1.0, "answers": {"digit": ["7", 0.9]},
                      "memory": [{"pid": 1, "name": "master", "rss_mb": 50.0},
                                 {"pid": 2, "name": "worker", "rss_mb": 120.0}]} for name in summary}
    servers["service"]["worker_ready_s"] = [0.2, 0.4]
    meta = {"rounds": 3, "duration_s": 10, "command": "x", "started": "s", "finished": "f", "models": "m",
            "payloads": {}, "contention": {"before": [], "after": []}, "connections": [16],
            "machine": {"cpu": "c", "cores": 2, "memory_gib": 24, "kernel": "k", "wrk": "w"}}
    return {"meta": meta, "summary": summary, "servers": servers}


def test_report_states_ratios_and_verdicts():
    met = render(_results(service_rps=2400, peer_rps=1000))
    assert "**2.40x** the best peer (pytriton" in met and "target 2.0x: met" in met
    assert "p99 5.0 ms vs 9.0 ms (lower)" in met
    assert "**50%** of the Flask floor" in met and "target 60%: MISSED" in met
    assert "max 0.400 s" in met and "RSS per worker: max 120 MB" in met
    missed = render(_results(service_rps=1500, peer_rps=1000))
    assert "**1.50x**" in missed and "MISSED by 25%" in missed


def test_report_explains_a_miss_with_the_shared_model_work():
    results = _results(service_rps=1500, peer_rps=1000)  # peer 1.0 ms/request, floor 0.3: room 0.2 ms for 2x
    results["meta"]["in_process"] = ["mnist work alone (decode + preprocess + LiteRT, Model.classify_bytes): 250 us CPU"]
    text = render(results)
    assert "needs at most 0.50 ms per request" in text and "leaving 0.20 ms" in text
    assert "costs 0.25 ms, more than that room by itself" in text
    assert "60% of the floor: needs at most 0.50 ms of CPU per request, 0.20 ms more than the floor's 0.30 ms" in text
    results["meta"]["in_process"] = ["mnist work alone (decode + preprocess + LiteRT, Model.classify_bytes): 150 us CPU"]
    assert "costs 0.15 ms, within that room" in render(results)


def test_report_explains_only_the_targets_missed():
    results = _results(service_rps=2400, peer_rps=1000)  # 2.4x the peer (met), 50% of the floor (missed)
    text = render(results).split("## Why targets are missed")[1]
    assert "the most CPU-efficient peer" not in text and "60% of the floor" in text
    results["summary"]["floor"]["digit"]["16"]["rps"] = 3000  # 80% of the floor
    assert "Every throughput target was met in this run." in render(results)
