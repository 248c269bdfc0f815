"""Soak test: 32 kept-alive connections send a mix of valid and invalid requests for N minutes on loopback.

    nice -n 19 python scripts/soak.py --url http://127.0.0.1:8080 --pid MASTER_PID --minutes 5

Each connection loops over: a digit PNG to /mnist/classify and /predict, a flower JPEG to /predict?model=flowers,
and invalid ones (a truncated PNG, a text file, an unknown model, a wrong method, an over-size image header).
Reported as one JSON line: requests and their rate, valid requests answered with anything but 2xx (the goal is
0), invalid ones answered 5xx (the goal is 0), p50/p99 latency of valid requests, and each worker's RSS every
``--sample`` seconds (the goal: flat within 10% after warm-up).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import requests


def cases() -> list[tuple[bool, str, str, dict[str, str], bytes, tuple | None]]:
    """(valid, method, path, headers, body, multipart file) for each kind of request."""
    digit = np.full((200, 200), 235, np.uint8)
    cv2.line(digit, (60, 50), (140, 50), 30, 12)
    cv2.line(digit, (140, 50), (90, 160), 30, 12)
    png = cv2.imencode(".png", digit)[1].tobytes()
    rng = np.random.default_rng(0)
    photo = cv2.imencode(".jpg", cv2.GaussianBlur(rng.integers(0, 255, (600, 800, 3), np.uint8), (9, 9), 0))[1]
    bomb = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR" + (50_000).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00"
    raw = {"Content-Type": "image/png"}
    return [
        (True, "POST", "/mnist/classify", {}, b"", ("digit.png", png)),
        (True, "POST", "/predict", raw, png, None),
        (True, "POST", "/predict?model=flowers", {"Content-Type": "image/jpeg"}, photo.tobytes(), None),
        (True, "GET", "/readyz", {}, b"", None),
        (False, "POST", "/mnist/classify", {}, b"", ("digit.png", png[: len(png) // 2])),
        (False, "POST", "/predict", {"Content-Type": "text/plain"}, b"hello", None),
        (False, "POST", "/predict?model=nope", raw, png, None),
        (False, "GET", "/predict", {}, b"", None),
        (False, "POST", "/predict", raw, bomb + b"\0" * 20, None),
    ]


class Totals:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = self.valid_not_2xx = self.invalid_5xx = self.errors = 0
        self.latencies: list[float] = []
        self.examples: list[str] = []

    def add(self, valid: bool, status: int | None, seconds: float, what: str) -> None:
        with self.lock:
            self.requests += 1
            if status is None:
                self.errors += 1
            elif valid and not 200 <= status < 300:
                self.valid_not_2xx += 1
            elif not valid and status >= 500:
                self.invalid_5xx += 1
            if valid and status is not None:
                self.latencies.append(seconds)
            if (status is None or (valid and status >= 300) or status >= 500) and len(self.examples) < 10:
                self.examples.append(f"{what} -> {status}")


def connection(url: str, until: float, totals: Totals, offset: int) -> None:
    session = requests.Session()
    kinds = cases()
    index = offset
    while time.monotonic() < until:
        valid, method, path, headers, body, upload = kinds[index % len(kinds)]
        index += 1
        start = time.monotonic()
        try:
            response = session.request(method, url + path, headers=headers, data=body or None,
                                        files={"image": upload} if upload else None, timeout=30)
            status = response.status_code
        except requests.RequestException:
            status = None
            session = requests.Session()
        totals.add(valid, status, time.monotonic() - start, f"{method} {path}")


def rss_mb(master: int) -> dict[int, float]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    sizes = {}
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes[int(pid)] = round(int(line.split()[1]) / 1024, 1)
    return sizes


def run(url: str, master: int, seconds: float, connections: int, sample: float) -> dict[str, object]:
    totals = Totals()
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=connection, args=(url, until, totals, i), daemon=True)
               for i in range(connections)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    samples = []
    while time.monotonic() < until:
        samples.append({"t": round(time.monotonic() - start), "rss_mb": rss_mb(master)})
        time.sleep(min(sample, max(0.0, until - time.monotonic())))
    for thread in threads:
        thread.join()
    samples.append({"t": round(time.monotonic() - start), "rss_mb": rss_mb(master)})
    latencies = sorted(totals.latencies)
    after_warmup = [s["rss_mb"] for s in samples if s["t"] >= min(60, seconds / 5)]
    spread = {}
    for pid in after_warmup[0] if after_warmup else {}:
        values = [s[pid] for s in after_warmup if pid in s]
        spread[pid] = round((max(values) - min(values)) / min(values) * 100, 1)
    return {
        "seconds": round(time.monotonic() - start),
        "connections": connections,
        "requests": totals.requests,
        "requests_per_s": round(totals.requests / (time.monotonic() - start), 1),
        "valid_not_2xx": totals.valid_not_2xx,
        "invalid_5xx": totals.invalid_5xx,
        "connection_errors": totals.errors,
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 1) if latencies else None,
        "p99_ms": round(1000 * latencies[int(len(latencies) * 0.99)], 1) if latencies else None,
        "rss_spread_after_warmup_percent": spread,
        "rss_samples": samples,
        "examples": totals.examples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--pid", type=int, required=True, help="the gunicorn master's process id")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--sample", type=float, default=15.0, help="seconds between two RSS samples")
    args = parser.parse_args(argv)
    report = run(args.url, args.pid, args.minutes * 60, args.connections, args.sample)
    print(json.dumps(report))
    return 0 if report["valid_not_2xx"] == 0 and report["invalid_5xx"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
