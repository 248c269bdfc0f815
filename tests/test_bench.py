"""The benchmark's own moving parts: wrk driven through the generated Lua script on a real loopback server,
the multipart body it sends, the report's target arithmetic, the phone-photo payload and the baseline revision.
(The benchmark itself is `make bench`.)"""

from __future__ import annotations

import base64
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from bench import fleet
from bench import run as bench_run
from bench.load import Request, run_wrk, write_script
from bench.payloads import choose_digit_photo, digit_photo_jpeg, multipart, sources, synthetic_digit_photo
from bench.photo_cost import describe, measure, upscale_jpeg
from bench.report import render
from bench.run import parse_args

REPO = fleet.REPO


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


# --- the digit-photo workload, the baseline revision, the payload fallback ---------------------------------------


def _photo_results(service_rps: float, peer_rps: float) -> dict:
    """Made-up figures with the three workloads and a baseline server ``service@abc``."""
    results = _results(service_rps=2400, peer_rps=1000)
    row = results["summary"]["service"]["digit"]["16"]
    results["summary"]["service"]["digit-photo"] = {"16": dict(row, rps=service_rps, cpu_ms=9.0, p99_ms=40.0,
                                                               rounds_rps=[service_rps])}
    results["summary"]["pytriton"]["digit-photo"] = {"16": dict(row, rps=peer_rps, cpu_ms=11.0, p99_ms=60.0,
                                                                rounds_rps=[peer_rps])}
    for info in results["servers"].values():
        info["answers"]["digit-photo"] = ["0", 0.99]
    results["meta"]["workloads"] = ["digit", "digit-photo"]
    results["meta"]["payloads"] = {
        "digit": {"file": "digit.png", "bytes": 317, "source": "MNIST test digit 0 (a 7)"},
        "digit-photo": {"file": "digit-photo.jpg", "bytes": 420480,
                        "source": "real-digits/x/pr27_zero.jpg (3.0 MP, label 0)"}}
    return results


def test_report_has_the_digit_photo_table_and_its_ratio_to_the_best_peer():
    text = render(_photo_results(service_rps=180, peer_rps=150))
    table = text.split("## `/mnist/classify`-equivalent, phone photo of a handwritten digit (JPEG, about 3 MP)")[1]
    assert table.split("\n\n")[1].splitlines()[2] == "| service | 16 | 180 | 1.00 | 40.00 | 0 | 9.00 | 180 |"
    assert ("- digit-photo, 16 connections: service 180 requests/s = **1.20x** the best peer (pytriton, 150); "
            "no target fixed, reported. p99 40.0 ms vs 60.0 ms (lower)") in text
    assert "requests per CPU-second: **1.22x** pytriton" in text
    assert "digit-photo = digit-photo.jpg (420,480 bytes; real-digits/x/pr27_zero.jpg (3.0 MP, label 0))" in text
    assert "| answer (digit / digit-photo) |" in text and "| 7 0.900 / 0 0.990 |" in text
    assert "This tree against its baseline" not in text  # no baseline in this run


def test_report_without_recorded_workloads_renders_the_two_old_tables():
    results = _results(service_rps=2400, peer_rps=1000)
    text = render(results)
    assert "## `/mnist/classify`-equivalent, small digit PNG" in text and "## flowers model" in text
    assert "phone photo" not in text


def test_report_gives_current_over_baseline_per_workload_and_connections():
    results = _photo_results(service_rps=180, peer_rps=150)
    summary = results["summary"]
    summary["service@abc"] = {w: {"16": dict(rows["16"], rps=rows["16"]["rps"] / 2, cpu_ms=2 * rows["16"]["cpu_ms"])}
                              for w, rows in summary["service"].items()}
    results["servers"]["service@abc"] = dict(results["servers"]["service"],
                                             baseline={"rev": "abc", "commit": "abc" * 13 + "a",
                                                       "describe": "abcabca 2026-12-01 Before the change"})
    results["runs"] = [{"round": r, "server": s, "workload": "digit-photo", "connections": 16, "rps": rps}
                       for r, s, rps in ((0, "service", 180), (0, "service@abc", 100),
                                         (1, "service", 160), (1, "service@abc", 80), (1, "floor", 1))]
    text = render(results)
    section = text.split("## This tree against its baseline")[1].split("\n## ")[0]
    assert "- service@abc: commit abcabca 2026-12-01 Before the change" in section
    assert ("| digit-photo | 16 | service@abc | 180 / 90.0 | **2.00x** | 1.80, 2.00 | 9.00 / 18.00 | 0.50x | "
            "40.0 / 40.0 |") in section
    assert "| digit | 16 | service@abc | 2,400 / 1,200 | **2.00x** |  | 0.50 / 1.00 | 0.50x |" in section


def test_report_lists_the_photo_decode_cost_apart_from_the_per_request_costs():
    results = _photo_results(service_rps=180, peer_rps=150)
    results["meta"]["in_process"] = [
        "service /mnist/classify: 380 us CPU per request",
        "3.0 MP phone JPEG 2016x1512, 1 bytes (x): decode 4.0 + to_mnist 4.0 = 8.0 ms CPU (...); limit 10 ms: within"]
    text = render(results)
    photo = text.split("## Decode + preprocessing of a digit photo (in-process, one core)")[1].split("\n## ")[0]
    assert "- 3.0 MP phone JPEG 2016x1512" in photo and "us CPU" not in photo
    why = text.split("## Why targets are missed")[1]
    assert "    service /mnist/classify: 380 us CPU per request" in why and "ms CPU" not in why


def test_baseline_option_resolves_the_revision_and_names_the_server():
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    args = parse_args(["--baseline", "HEAD", "--quick"])
    assert args.baselines == {"service@HEAD": head.stdout.strip()}
    assert args.rounds == 1 and args.workloads == ["digit", "flower", "digit-photo"]
    assert parse_args([]).baselines == {}


@pytest.mark.parametrize("argv, message", [
    (["--baseline", "no-such-revision-x9"], "not a commit in this repository"),
    (["--baseline", "HEAD", "--baseline", "HEAD"], "given twice"),
    (["--baseline", "HEAD", "--servers", "floor,pytriton"], "keep 'service' in --servers"),
    (["--workloads", "digit,cat"], "--workloads: unknown cat"),
])
def test_baseline_and_workload_options_refuse_what_cannot_run(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_baseline_checkout_is_a_detached_git_worktree_removed_afterwards(tmp_path, monkeypatch):
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    monkeypatch.setattr(bench_run, "BASELINES", tmp_path / "baselines")
    commit = head.stdout.strip()
    path = bench_run.checkout_baseline(commit)
    try:
        assert path.parent == tmp_path / "baselines" and (path / "gunicorn.conf.py").is_file()
        at = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True).stdout.strip()
        assert at == commit
    finally:
        bench_run.remove_baseline(path)
    assert not path.exists()
    listed = subprocess.run(["git", "worktree", "list"], cwd=REPO, capture_output=True, text=True).stdout
    assert str(path) not in listed


def test_every_server_gets_the_same_photo_bytes_and_a_baseline_runs_from_its_checkout(tmp_path):
    payloads = {}
    for name, data in (("digit", b"\x89PNG-digit"), ("flower", b"\xff\xd8\xff-flower"),
                       ("digit-photo", b"\xff\xd8\xff-phone-photo-bytes")):
        payloads[name] = tmp_path / name
        payloads[name].write_bytes(data)
    checkout = tmp_path / "checkout"
    specs = {s.name: s for s in fleet.build_specs(tmp_path / "models", payloads, tmp_path,
                                                  ["service", "floor", "naive", "pytriton", "bentoml", "mlserver"],
                                                  {}, {"service@abc": checkout})}
    photo = b"\xff\xd8\xff-phone-photo-bytes"
    for name, spec in specs.items():
        request = spec.requests["digit-photo"]
        carried = photo in request.body or base64.b64encode(photo) in request.body
        assert carried and b"flower" not in request.body, name
        assert "mnist" in request.path, name  # the digit model, as for the small PNG
    assert specs["service"].requests["digit-photo"].path == "/mnist/classify"
    assert b'name="image"; filename="digit-photo.jpg"' in specs["service"].requests["digit-photo"].body
    baseline, current = specs["service@abc"], specs["service"]
    assert baseline.cwd == checkout and baseline.env["PYTHONPATH"] == str(checkout) and current.cwd == REPO
    assert baseline.command == current.command and baseline.requests == current.requests
    same = {k: v for k, v in baseline.env.items() if k not in ("PORT", "PYTHONPATH")}
    assert same == {k: v for k, v in current.env.items() if k != "PORT"}
    assert fleet.slug("service@origin/main") == "service@origin_main"


def _jpeg(path, width: int, height: int) -> None:
    ok, data = cv2.imencode(".jpg", np.full((height, width), 200, np.uint8))
    path.write_bytes(data.tobytes())


def test_the_photo_payload_is_the_real_photo_nearest_3_megapixels(tmp_path):
    folder = tmp_path / "real-digits"
    folder.mkdir()
    _jpeg(folder / "small.jpg", 600, 800)
    _jpeg(folder / "phone.jpg", 2000, 1500)
    _jpeg(folder / "huge.jpg", 4000, 3000)
    _jpeg(folder / "drawn.jpg", 2048, 1536)
    ok, png = cv2.imencode(".png", np.full((1500, 2000), 200, np.uint8))
    (folder / "photo.png").write_bytes(png.tobytes())
    (folder / "labels.csv").write_text("file,label,source,kind\nsmall.jpg,1,s,photo\nhuge.jpg,2,s,photo\n"
                                       "drawn.jpg,3,s,drawn\nphoto.png,4,s,photo\nphone.jpg,5,s,photo\n")
    assert choose_digit_photo(tmp_path) == (folder / "phone.jpg", "5")
    data, source = digit_photo_jpeg(tmp_path)
    assert data == (folder / "phone.jpg").read_bytes()  # sent as it is, EXIF and all
    assert source == "real-digits/phone.jpg (3.0 MP, label 5)"
    (folder / "labels.csv").write_text("file,label,source,kind\nsmall.jpg,1,s,photo\ndrawn.jpg,3,s,drawn\n")
    assert choose_digit_photo(tmp_path) == (folder / "small.jpg", "1")  # only small photos: the largest


def test_without_the_data_the_photo_payload_is_synthesised_and_says_so(tmp_path):
    data, source = digit_photo_jpeg(tmp_path)
    assert source.startswith("SYNTHESISED photo-like JPEG") and "is absent" in source
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert data[:3] == b"\xff\xd8\xff" and image.shape == (1512, 2016, 3)
    assert sources(tmp_path)["digit-photo"] == source and sources(tmp_path)["digit"].startswith("SYNTHESISED")
    assert choose_digit_photo(tmp_path) is None


def test_the_synthesised_photo_reads_as_a_7_through_the_shipped_digit_model():
    """The fallback must be answered 200 by /mnist/classify, or the benchmark could not load it."""
    if not any((REPO / "models" / "mnist").glob("*/manifest.json")):
        pytest.skip("models/mnist is absent")
    from service.inference import ModelRegistry

    model = ModelRegistry.from_directory(REPO / "models", ("mnist",)).get("mnist")
    prediction = model.classify_bytes(synthetic_digit_photo(), 40_000_000)
    assert prediction.label == "7" and prediction.recognised


def test_photo_cost_upscales_to_12_megapixels_and_times_the_service_path(tmp_path):
    if not any((REPO / "models" / "mnist").glob("*/manifest.json")):
        pytest.skip("models/mnist is absent")
    from service.inference import ModelRegistry

    photo = synthetic_digit_photo()
    big = upscale_jpeg(photo)
    assert cv2.imdecode(np.frombuffer(big, np.uint8), cv2.IMREAD_GRAYSCALE).shape == (3024, 4032)
    model = ModelRegistry.from_directory(REPO / "models", ("mnist",)).get("mnist")
    figures = measure(model, photo, repeats=3, max_pixels=40_000_000)
    assert all(figures[k] > 0 for k in ("decode", "preprocess", "both", "wall"))
    line = describe(photo, "synthesised", figures, 3, limit=10.0)
    assert line.startswith("3.0 MP phone JPEG 2016x1512, ") and " ms CPU " in line and "limit 10 ms: " in line
