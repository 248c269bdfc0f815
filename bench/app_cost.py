"""CPU microseconds per request inside the WSGI app (no HTTP server), for the service and the Flask floor.

Why: on a shared 2-core machine wall-clock throughput is noisy; the CPU time a request costs inside the app is
stable enough (best of 5) to decide hot-path changes. The HTTP server's own cost comes on top (bench/run.py).

    PYTHONPATH=. .venv/bin/python -m bench.app_cost --models-dir bench/.work/standin-models
"""

from __future__ import annotations

import argparse
import io
import os
import time
from collections.abc import Callable
from pathlib import Path

from werkzeug.test import EnvironBuilder

from bench.payloads import multipart, write_payloads


def cpu_us_per_call(call: Callable[[], object], n: int) -> float:
    for _ in range(max(20, n // 20)):
        call()
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(n):
            call()
        best = min(best, (time.process_time() - start) / n)
    return best * 1e6


def wsgi_call(app, path: str, headers: dict[str, str], body: bytes) -> Callable[[], None]:
    environ = EnvironBuilder(path=path, method="POST", headers=headers, data=body).get_environ()

    def call() -> None:
        env = dict(environ)
        env["wsgi.input"] = io.BytesIO(body)
        statuses: list[str] = []
        result = app(env, lambda status, headers, exc_info=None: statuses.append(status))
        b"".join(result)
        if hasattr(result, "close"):
            result.close()
        if not statuses[0].startswith("200"):
            raise RuntimeError(f"{path} answered {statuses[0]}")

    return call


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=Path(__file__).resolve().parent.parent / "models")
    parser.add_argument("-n", type=int, default=2000, help="calls per measurement (flowers: n/10)")
    args = parser.parse_args(argv)
    os.environ.setdefault("CLASSIFIER_LOG_LEVEL", "WARNING")
    from bench.servers.floor import app as floor
    from service import create_app
    from service.config import Settings

    app = create_app(Settings.from_env(models_dir=args.models_dir, models=("mnist", "flowers")))
    payloads = write_payloads(Path(__file__).resolve().parent / ".work" / "payloads")
    digit, flower = payloads["digit"].read_bytes(), payloads["flower"].read_bytes()
    photo = payloads["digit-photo"].read_bytes()
    mp_headers, mp_body = multipart(digit, "digit.png", "image/png")
    photo_headers, photo_body = multipart(photo, "digit-photo.jpg", "image/jpeg")
    cases = [
        ("floor /mnist/classify", floor, "/mnist/classify", mp_headers, mp_body, args.n),
        ("service /mnist/classify", app, "/mnist/classify", mp_headers, mp_body, args.n),
        ("service /predict?model=flowers", app, "/predict?model=flowers", {"Content-Type": "image/jpeg"}, flower,
         max(20, args.n // 10)),
        ("service /mnist/classify, digit photo", app, "/mnist/classify", photo_headers, photo_body,
         max(20, args.n // 50)),
    ]
    for label, target, path, headers, body, n in cases:
        print(f"{label}: {cpu_us_per_call(wsgi_call(target, path, headers, body), n):,.0f} us CPU per request")
    registry = app.extensions["registry"]
    for label, name, data, n in (("mnist", "mnist", digit, args.n),
                                 ("flowers", "flowers", flower, max(20, args.n // 10)),
                                 ("mnist, digit photo,", "mnist", photo, max(20, args.n // 50))):
        model = registry.get(name)
        work = cpu_us_per_call(lambda m=model, d=data: m.classify_bytes(d, 40_000_000), n)
        print(f"{label} work alone (decode + preprocess + LiteRT, Model.classify_bytes): {work:,.0f} us CPU")


if __name__ == "__main__":
    main()
