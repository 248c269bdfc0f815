"""``python -m service.jobs run-next [--detach]``: the local job runner (started by the service, not by hand)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from service.config import Settings
from service.jobs.local import run_next


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.jobs")
    parser.add_argument("command", choices=["run-next"])
    parser.add_argument("--detach", action="store_true", help="fork once more and let the parent exit at once")
    args = parser.parse_args(argv)
    if args.detach and os.fork():
        os._exit(0)
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")
    return run_next(settings)


if __name__ == "__main__":
    raise SystemExit(main())
