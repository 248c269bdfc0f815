"""Slow-client check: hold N connections that trickle their headers or bodies, and measure normal requests meanwhile.

    python scripts/slow_clients.py --url http://127.0.0.1:8080 --slow 200 --seconds 20 [--image digit.png]

Half the slow connections send their request line and headers one byte at a time, the other half send complete
headers and then a body one byte at a time (each connection writes one byte every ``--interval`` seconds). Normal
clients meanwhile POST a small digit PNG to /mnist/classify one after another. The script prints one JSON line:
how many normal requests were answered 200 within 1 s, and their share (the goal is at least 0.99).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from urllib.parse import urlsplit

import cv2
import numpy as np
import requests


def digit_png() -> bytes:
    image = np.full((200, 200), 235, np.uint8)
    cv2.line(image, (60, 50), (140, 50), 30, 12)
    cv2.line(image, (140, 50), (90, 160), 30, 12)
    return cv2.imencode(".png", image)[1].tobytes()


def slow_payloads(host: str, count: int) -> list[bytes]:
    """What each slow connection trickles: alternately a request head, and a head plus a body that never ends."""
    head = (f"POST /predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/png\r\n"
            "X-Padding: " + "a" * 200 + "\r\nContent-Length: 100000\r\n\r\n").encode()
    return [head if i % 2 == 0 else head + b"\x89PNG" + b"\0" * 99_996 for i in range(count)]


class Trickler(threading.Thread):
    """One thread, many sockets: each gets one byte per interval (the head of the body variant at once)."""

    def __init__(self, address: tuple[str, int], payloads: list[bytes], interval: float) -> None:
        super().__init__(daemon=True)
        self.address, self.interval = address, interval
        self.stop = threading.Event()
        self.sockets: list[tuple[socket.socket, bytes, int]] = []
        self.opened = self.closed_by_server = 0
        for index, payload in enumerate(payloads):
            sock = socket.create_connection(address, timeout=5)
            sock.setblocking(False)
            head_end = payload.index(b"\r\n\r\n") + 4
            position = head_end if index % 2 else 0  # body tricklers send their head in one piece
            if position:
                sock.send(payload[:position])
            self.sockets.append((sock, payload, position))
            self.opened += 1

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            alive = []
            for sock, payload, position in self.sockets:
                try:
                    sock.send(payload[position : position + 1])
                    alive.append((sock, payload, position + 1))
                except (BlockingIOError, InterruptedError):
                    alive.append((sock, payload, position))
                except OSError:
                    self.closed_by_server += 1
                    sock.close()
            self.sockets = alive

    def close(self) -> None:
        self.stop.set()
        self.join()
        for sock, _, _ in self.sockets:
            sock.close()


def normal_client(url: str, image: bytes, until: float, results: list[float | None]) -> None:
    session = requests.Session()
    while time.monotonic() < until:
        start = time.monotonic()
        try:
            response = session.post(url + "/mnist/classify", files={"image": ("digit.png", image)}, timeout=5)
            results.append(time.monotonic() - start if response.status_code == 200 else None)
        except requests.RequestException:
            results.append(None)
            session = requests.Session()
        time.sleep(0.02)


def run(url: str, slow: int, seconds: float, clients: int, interval: float, image: bytes) -> dict[str, object]:
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    trickler = Trickler(address, slow_payloads(parts.netloc, slow), interval)
    trickler.start()
    time.sleep(min(2.0, seconds / 4))  # let the slow connections settle in before measuring
    results: list[float | None] = []
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=normal_client, args=(url, image, until, results)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    still_open = len(trickler.sockets)
    trickler.close()
    fast = sum(1 for r in results if r is not None and r <= 1.0)
    latencies = sorted(r for r in results if r is not None)
    return {
        "slow_connections": trickler.opened,
        "slow_still_open_at_end": still_open,
        "normal_requests": len(results),
        "answered_200": len(latencies),
        "answered_200_within_1s": fast,
        "rate": round(fast / len(results), 4) if results else 0.0,
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 1) if latencies else None,
        "max_ms": round(1000 * latencies[-1], 1) if latencies else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--slow", type=int, default=200, help="slow connections to hold open")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the normal clients run")
    parser.add_argument("--clients", type=int, default=4, help="normal clients, one request at a time each")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between two bytes of a slow client")
    parser.add_argument("--image", help="a PNG or JPEG digit photo to post (default: a drawn 7)")
    args = parser.parse_args(argv)
    image = open(args.image, "rb").read() if args.image else digit_png()
    report = run(args.url, args.slow, args.seconds, args.clients, args.interval, image)
    print(json.dumps(report))
    return 0 if report["rate"] >= 0.99 else 1


if __name__ == "__main__":
    sys.exit(main())
