"""Memory check: post the most memory-hungry uploads the limits allow, 8 at once, and report each worker's peak RSS.

    python scripts/memory_check.py --url http://127.0.0.1:8080 --pid MASTER_PID [--rounds 3]

The uploads are small files that decode to as much as the limits let through (a flat 16-bit RGBA PNG at the
decoded-bytes limit, an 8-bit RGB and a grayscale PNG at it, a 40-megapixel JPEG) plus ones over the limits
(the 16-bit RGBA 6000 x 6000 PNG that decodes to 288 MB), each sent to /predict for every model and to
/mnist/classify. Peak RSS is each worker's VmHWM from /proc (the kernel's own high-water mark). Prints one JSON
line; the goal is a peak of at most 300 MB per worker.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import requests

DEFAULT_DECODED_LIMIT = 24 * 1024 * 1024


def flat_png(height: int, width: int, channels: int, dtype: type) -> bytes:
    image = np.full((height, width, channels) if channels > 1 else (height, width), 200, dtype)
    if channels == 4:
        image[..., -1] = np.iinfo(dtype).max // 2  # half transparent: the composite path runs
    cv2.line(image, (0, 0), (width - 1, height - 1), 0, 9)
    return cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])[1].tobytes()


def noisy_png(limit: int) -> bytes:
    """A photo-like PNG just under the 10 MiB body limit that decodes to about the decoded-bytes limit."""
    side = int((limit / 3) ** 0.5)
    rng = np.random.default_rng(1)
    image = cv2.resize(rng.integers(0, 255, (side // 24, side // 24, 3), np.uint8), (side, side))
    return cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 6])[1].tobytes()


def payloads(limit: int) -> dict[str, bytes]:
    side16 = int((limit / 8) ** 0.5)  # 16-bit RGBA at the limit
    side_rgb = int((limit / 3) ** 0.5)
    side_gray = min(int(limit ** 0.5), 6000)
    jpeg = cv2.imencode(".jpg", cv2.resize(np.random.default_rng(0).integers(0, 255, (730, 548, 3), np.uint8),
                                           (5475, 7300)), [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()
    return {
        "png16-rgba-6000 (over the limit)": flat_png(6000, 6000, 4, np.uint16),
        f"png16-rgba-{side16}": flat_png(side16, side16, 4, np.uint16),
        f"png8-rgb-{side_rgb}": flat_png(side_rgb, side_rgb, 3, np.uint8),
        f"png8-gray-{side_gray}": flat_png(side_gray, side_gray, 1, np.uint8),
        f"png8-rgba-{int((limit / 4) ** 0.5)}": flat_png(int((limit / 4) ** 0.5), int((limit / 4) ** 0.5), 4, np.uint8),
        "jpeg-40mp": jpeg,
        "png8-rgb-noisy-10mib": noisy_png(limit),
    }


def worker_pids(master: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def run(url: str, master: int, rounds: int, limit: int, models: list[str]) -> dict[str, object]:
    cases = payloads(limit)
    targets = [f"/predict?model={m}" for m in models] + ["/mnist/classify"]
    jobs = [(name, target) for _ in range(rounds) for name in cases for target in targets]
    statuses: dict[str, dict[int, int]] = {}

    def send(job: tuple[str, str]) -> tuple[str, int]:
        name, target = job
        if target == "/mnist/classify":
            response = requests.post(url + target, files={"image": ("x.png", cases[name])}, timeout=120)
        else:
            response = requests.post(url + target, data=cases[name], headers={"Content-Type": "image/png"},
                                     timeout=120)
        return name, response.status_code

    with ThreadPoolExecutor(8) as pool:
        for name, status in pool.map(send, jobs):
            counts = statuses.setdefault(name, {})
            counts[status] = counts.get(status, 0) + 1
    pids = worker_pids(master)
    return {
        "uploads": {name: len(data) for name, data in cases.items()},
        "statuses": statuses,
        "requests": len(jobs),
        "peak_rss_mb": {pid: round(status_kb(pid, "VmHWM") / 1024, 1) for pid in pids},
        "rss_now_mb": {pid: round(status_kb(pid, "VmRSS") / 1024, 1) for pid in pids},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--pid", type=int, required=True, help="the gunicorn master's process id")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=DEFAULT_DECODED_LIMIT, help="the server's decoded-bytes limit")
    parser.add_argument("--models", default="mnist,flowers", help="models to send /predict uploads to")
    args = parser.parse_args(argv)
    report = run(args.url, args.pid, args.rounds, args.limit, args.models.split(","))
    print(json.dumps(report))
    return 0 if max(report["peak_rss_mb"].values()) <= 300 else 1


if __name__ == "__main__":
    sys.exit(main())
