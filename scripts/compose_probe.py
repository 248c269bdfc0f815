"""The HTTP side of scripts/compose-check.sh: what a client of the compose stack sees, through nginx and from each
replica's own address. Standard library only, so it runs with any python3 before or without the virtualenv.

Subcommands (each exits non-zero with a sentence saying what failed):
  ready     wait until every URL's /readyz answers 200
  spread    classify a digit through nginx N times; every answer is a digit, and every replica's /metrics counted some
  version   wait until every replica serves a model version (hot reload from the shared volume), then predict with it
  failover  clients keep classifying through nginx while a command stops one replica; count the requests lost
  train     queue a tiny training job through nginx, wait for it, and return the version it published
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

DIGITS = set("0123456789")


def say(message: str) -> None:
    print(f"[compose-probe] {message}", file=sys.stderr, flush=True)


def fail(message: str) -> None:
    say(f"FAIL: {message}")
    raise SystemExit(1)


def call(url: str, data: bytes | None = None, headers: dict[str, str] | None = None,
         timeout: float = 30) -> tuple[int, bytes]:
    """One request; an HTTP error status is an answer (returned), a connection error raises OSError."""
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def multipart(path: Path) -> tuple[bytes, dict[str, str]]:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{path.name}"\r\n'
            f"Content-Type: image/png\r\n\r\n").encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def classify(base: str, image: Path, query: str = "") -> dict:
    body, headers = multipart(image)
    status, answer = call(f"{base}/mnist/classify{query}", body, headers)
    if status != 200:
        raise ValueError(f"status {status}: {answer[:200]!r}")
    result = json.loads(answer)
    if result.get("classification") not in DIGITS:
        raise ValueError(f"not a digit answer: {result}")
    return result


def classify_count(replica: str) -> float:
    """The replica's count of /mnist/classify requests (its latency histogram's _count, summed over labels)."""
    status, text = call(f"{replica}/metrics")
    if status != 200:
        fail(f"{replica}/metrics answered {status}")
    pattern = re.compile(r'^classifier_http_request_duration_seconds_count\{([^}]*)\} (\S+)$', re.M)
    return sum(float(value) for labels, value in pattern.findall(text.decode())
               if 'route="/mnist/classify"' in labels)


def ready(args: argparse.Namespace) -> None:
    deadline = time.monotonic() + args.timeout
    for url in args.urls:
        while True:
            try:
                status, body = call(f"{url}/readyz", timeout=3)
            except OSError as error:
                status, body = 0, str(error).encode()
            if status == 200:
                say(f"{url}/readyz: 200 {body[:120].decode(errors='replace')}")
                break
            if time.monotonic() > deadline:
                fail(f"{url}/readyz not 200 within {args.timeout}s (last: {status} {body[:200]!r})")
            time.sleep(1)


def spread(args: argparse.Namespace) -> None:
    before = {replica: classify_count(replica) for replica in args.replica}
    answers = []
    for _ in range(args.requests):
        try:
            answers.append(classify(args.nginx, args.image)["classification"])
        except (OSError, ValueError) as error:
            fail(f"a request through nginx failed: {error}")
    counted = {replica: classify_count(replica) - before[replica] for replica in args.replica}
    say(f"{args.requests} requests through nginx, all answered {sorted(set(answers))}; "
        f"counted by each replica: {', '.join(f'{r} {n:.0f}' for r, n in counted.items())}")
    if sum(counted.values()) != args.requests:
        fail(f"the replicas counted {sum(counted.values()):.0f} requests, not the {args.requests} sent")
    idle = [replica for replica, n in counted.items() if n == 0]
    if idle:
        fail(f"nginx sent nothing to {', '.join(idle)}")


def version(args: argparse.Namespace) -> None:
    deadline = time.monotonic() + args.timeout
    for replica in args.replica:
        while True:
            status, body = call(f"{replica}/api/v1/models/{args.model}")
            versions = {v["version"]: v for v in json.loads(body).get("versions", [])} if status == 200 else {}
            state = versions.get(args.version, {}).get("state")
            if state == "available":
                break
            if time.monotonic() > deadline:
                fail(f"{replica} does not serve {args.model} version {args.version} after {args.timeout}s "
                     f"(state {state!r}; versions {sorted(versions)})")
            time.sleep(0.5)
        # Each of the replica's workers follows the folder on its own clock, so the worker that listed the version
        # may not be the one that answers: a 404 naming the version is retried until the deadline.
        while True:
            status, body = call(f"{replica}/predict?model={args.model}&version={args.version}",
                                args.image.read_bytes(), {"Content-Type": "image/png"})
            if status != 404 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        # A freshly trained model may refuse the digit as not one (422): the refusal names the version that refused.
        answer = json.loads(body) if body.startswith(b"{") else {}
        answer = {**answer.get("details", {}), **answer} if status == 422 else answer
        if status not in (200, 422):
            fail(f"{replica} could not predict with version {args.version}: {status} {body[:200]!r}")
        if answer.get("version") != args.version:
            fail(f"{replica} answered with version {answer.get('version')!r}, not {args.version}")
        say(f"{replica} serves {args.model} version {args.version}: {json.dumps(answer)[:160]}")


def failover(args: argparse.Namespace) -> None:
    """Clients classify through nginx without pause while ``--stop`` runs; every request must succeed."""
    outcomes: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                classify(args.nginx, args.image)
                outcome = "ok"
            except (OSError, ValueError) as error:
                outcome = f"lost: {error}"
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    for thread in threads:
        thread.start()
    time.sleep(args.before)
    with lock:
        sent_before = len(outcomes)
    say(f"{args.clients} clients running ({sent_before} requests so far); stopping: {' '.join(args.stop)}")
    started = time.monotonic()
    result = subprocess.run(args.stop, capture_output=True, text=True)
    if result.returncode:
        stop.set()
        fail(f"the stop command failed ({result.returncode}): {result.stderr.strip()}")
    say(f"stopped in {time.monotonic() - started:.1f}s; clients keep going for {args.after}s")
    time.sleep(args.after)
    stop.set()
    for thread in threads:
        thread.join(timeout=70)
    lost = [o for o in outcomes if o != "ok"]
    say(f"{len(outcomes)} requests through nginx while one replica stopped: {len(lost)} lost")
    for outcome in lost[:5]:
        say(f"  {outcome}")
    if lost:
        fail(f"{len(lost)} of {len(outcomes)} requests lost while a replica stopped")
    if len(outcomes) - sent_before < args.clients:
        fail("too few requests after the stop to say anything")


def train(args: argparse.Namespace) -> None:
    config = json.loads(args.config.read_text()) if args.config else {
        "dataset": "MnistDataset", "dataset_args": {"image_size": [28, 28, 1], "limit": 256},
        "model": "DigitModel", "network": "lenet5", "network_args": {"activation": "relu"},
        "train_args": {"batch_size": 64, "epochs": 1}, "save_weights": True, "promote": "never"}
    status, body = call(f"{args.nginx}/api/v1/train", json.dumps(config).encode(),
                        {"Content-Type": "application/json", "Authorization": f"Bearer {args.token}"})
    if status not in (200, 201, 202):
        fail(f"POST /api/v1/train answered {status}: {body[:300]!r}")
    key = json.loads(body)["key"]
    say(f"training job {key} queued through nginx")
    deadline = time.monotonic() + args.timeout
    while True:
        status, body = call(f"{args.nginx}/api/v1/train/{key}")
        job = json.loads(body)
        if job.get("status") in ("success", "failed", "cancelled"):
            break
        if time.monotonic() > deadline:
            fail(f"job {key} still {job.get('status')} after {args.timeout}s")
        time.sleep(2)
    if job["status"] != "success":
        fail(f"job {key} ended {job['status']}: {json.dumps(job.get('message'))[:400]}")
    published = job["model"]["version"]
    say(f"job {key} succeeded: {job['model']['name']} version {published}, test {job['message'].get('test')}")
    print(published)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("ready")
    p.add_argument("urls", nargs="+")
    p.add_argument("--timeout", type=float, default=180)
    p.set_defaults(run=ready)
    for name, run in (("spread", spread), ("version", version), ("failover", failover), ("train", train)):
        p = commands.add_parser(name)
        p.add_argument("--nginx")
        p.add_argument("--replica", action="append", default=[])
        p.add_argument("--image", type=Path)
        p.set_defaults(run=run)
        if name == "spread":
            p.add_argument("--requests", type=int, default=40)
        if name == "version":
            p.add_argument("--model", default="mnist")
            p.add_argument("--version", required=True)
            p.add_argument("--timeout", type=float, default=30)
        if name == "failover":
            p.add_argument("--clients", type=int, default=4)
            p.add_argument("--before", type=float, default=3)
            p.add_argument("--after", type=float, default=3)
            p.add_argument("--stop", nargs=argparse.REMAINDER, required=True)
        if name == "train":
            p.add_argument("--token", required=True)
            p.add_argument("--config", type=Path)
            p.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
