"""Keep the ``classify`` command's stdout for result lines only, whatever native libraries print.

TensorFlow and LiteRT write to file descriptors 1 and 2 from C ("INFO: Created TensorFlow Lite XNNPACK
delegate for CPU."), below anything Python's ``sys.stdout`` can intercept. So the real stdout is duplicated to a
private descriptor that only the result writer holds, and descriptor 1 is pointed at stderr (or at /dev/null in
quiet mode, together with descriptor 2) for the whole run. Logs go to a private duplicate of the real stderr,
so ``--quiet`` can silence native chatter and still report a fatal error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from tqdm import tqdm


@dataclass
class Streams:
    """``results``: the real stdout (JSON lines only); ``messages``: the real stderr (logs, progress bar)."""

    results: TextIO
    messages: TextIO


@contextlib.contextmanager
def protected_streams(quiet: bool) -> Iterator[Streams]:
    """Redirect descriptors 1 (and 2 when ``quiet``) for the duration; restore them afterwards."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    results = os.fdopen(os.dup(saved_out), "w", encoding="utf-8", buffering=1, closefd=True)
    messages = os.fdopen(os.dup(saved_err), "w", encoding="utf-8", buffering=1, closefd=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    python_streams = sys.stdout, sys.stderr
    # Python-level writers (a stray print) are moved too: sys.stdout may not wrap descriptor 1 (pytest, IDEs).
    null_text = open(os.devnull, "w", encoding="utf-8") if quiet else None  # noqa: SIM115 - closed below
    try:
        if quiet:
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            sys.stdout = sys.stderr = null_text
        else:
            os.dup2(saved_err, 1)
            sys.stdout = sys.stderr
        yield Streams(results, messages)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        sys.stdout, sys.stderr = python_streams
        if null_text is not None:
            null_text.close()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        for fd in (saved_out, saved_err, devnull):
            os.close(fd)
        with contextlib.suppress(OSError, ValueError):
            messages.close()
        silence_broken_results(results)


def silence_broken_results(results: TextIO) -> None:
    """Close the results stream even when its reader has gone (``| head``), without a second BrokenPipeError."""
    try:
        results.close()
    except (BrokenPipeError, OSError, ValueError):
        # The buffered text could not be flushed; point the descriptor at /dev/null so the close succeeds.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, results.fileno())
            os.close(devnull)
            results.close()


class TqdmHandler(logging.Handler):
    """Writes log records through ``tqdm.write`` so they do not tear a progress bar on the same terminal."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # noqa: BLE001 - logging must never take the run down
            self.handleError(record)


def configure_cli_logging(stream: TextIO, *, quiet: bool, verbosity: int) -> None:
    """Warnings by default (a skipped file is a warning), info with -v, debug with -vv, errors only with -q."""
    if quiet:
        level = logging.ERROR
    else:
        level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbosity, 2)]
    handler = TqdmHandler(stream)
    layout = "%(levelname)s %(name)s: %(message)s" if verbosity >= 2 else "classify: %(message)s"
    handler.setFormatter(logging.Formatter(layout))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
