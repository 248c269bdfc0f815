"""CPU microseconds to take the image out of a multipart upload, as real clients send it: a new boundary each time.

Why: curl, requests and browsers make a random boundary per request. werkzeug's multipart decoder compiles two
regular expressions around the boundary for each request (Python's pattern cache never hits), and wrk's fixed
body hides that cost from ``make bench``. This compares werkzeug's decoder (what the service used) with the
service's own path (``service.api.uploads``, python-multipart), on the digit PNG and the 3 MP digit photo.

    PYTHONPATH=. .venv/bin/python -m bench.multipart_cost
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask, request
from werkzeug.sansio.multipart import Data, Epilogue, File, MultipartDecoder, NeedData

from bench.payloads import write_payloads
from service.api.uploads import multipart_image


def form(boundary: bytes, payload: bytes) -> bytes:
    return (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\n'
            b"Content-Type: image/png\r\n\r\n" + payload + b"\r\n--" + boundary + b"--\r\n")


def werkzeug_image(boundary: bytes, body: bytes) -> bytes:
    decoder = MultipartDecoder(boundary)
    decoder.receive_data(body)
    decoder.receive_data(None)
    chunks: list[bytes] = []
    while True:
        event = decoder.next_event()
        if isinstance(event, (NeedData, Epilogue)):
            return b"".join(chunks)
        if isinstance(event, Data):
            chunks.append(event.data)
        elif isinstance(event, File):
            chunks = []


def cpu_us(calls: list[Callable[[], bytes]], expected: bytes) -> float:
    """Best of 3 passes over ``calls`` (each with its own boundary), CPU microseconds per call."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for call in calls:
            if call() != expected:
                raise RuntimeError("the parser returned other bytes than were sent")
        best = min(best, (time.process_time() - start) / len(calls))
    return best * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="requests per measurement (the photo: n/20)")
    args = parser.parse_args(argv)
    payloads = write_payloads(Path(__file__).resolve().parent / ".work" / "payloads")
    app = Flask(__name__)
    for name in ("digit", "digit-photo"):
        payload = payloads[name].read_bytes()
        count = args.n if name == "digit" else max(20, args.n // 20)
        bodies = []
        for _ in range(count):
            boundary = b"------------------------" + os.urandom(8).hex().encode()  # curl's shape
            bodies.append((boundary, form(boundary, payload)))
        old = cpu_us([lambda b=b, d=d: werkzeug_image(b, d) for b, d in bodies], payload)

        def service_path(boundary: bytes, body: bytes) -> bytes:
            content_type = "multipart/form-data; boundary=" + boundary.decode()
            with app.test_request_context("/", method="POST", data=body, content_type=content_type):
                return multipart_image(request)

        def context_only(boundary: bytes, body: bytes) -> bytes:
            content_type = "multipart/form-data; boundary=" + boundary.decode()
            with app.test_request_context("/", method="POST", data=body, content_type=content_type):
                return payload

        new = cpu_us([lambda b=b, d=d: service_path(b, d) for b, d in bodies], payload)
        context = cpu_us([lambda b=b, d=d: context_only(b, d) for b, d in bodies], payload)
        print(f"{name} ({len(payload):,} bytes), a new boundary per request: werkzeug's decoder {old:,.0f} us CPU; "
              f"the service's path {new - context:,.0f} us CPU ({new:,.0f} with a test request context, which "
              f"alone costs {context:,.0f})")


if __name__ == "__main__":
    main()
