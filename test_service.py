"""Post an image to a running service's /mnist/classify and print the answer.

    python test_service.py --host localhost --port 8080 --image test-data/photo_7.jpg
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="localhost", help="service host (default: localhost)")
    parser.add_argument("--port", type=int, default=8080, help="service port (default: 8080)")
    parser.add_argument("--image", required=True, type=Path, help="JPEG or PNG file to classify")
    parser.add_argument("--endpoint", default="/mnist/classify", help="path to post to (default: /mnist/classify)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the answer")
    args = parser.parse_args(argv)

    url = f"http://{args.host}:{args.port}{args.endpoint}"
    try:
        with args.image.open("rb") as handle:
            response = requests.post(url, files={"image": (args.image.name, handle)}, timeout=args.timeout)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except requests.RequestException as exc:
        print(f"error: cannot reach {url}: {exc}", file=sys.stderr)
        return 2
    try:
        body = response.json()
    except ValueError:
        body = {"status": response.status_code, "body": response.text[:500]}
    print(json.dumps(body))
    return 0 if response.ok else 1


if __name__ == "__main__":
    sys.exit(main())
