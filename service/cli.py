"""``classify``: classify folders, files, glob patterns and URLs of images; one JSON line per image on stdout.

    classify photos/ 2>/dev/null
    {"img_name.jpg": {"score": 0.9731, "class": "sunflowers"}}

stdout carries nothing but those lines (see ``service.cli_streams``), in input order, flushed as produced.
Logs, skipped files and the progress bar go to stderr. Exit status: 0 every image classified, 1 some image or
input failed (the others are still printed), 2 nothing could be run (usage error, a model that cannot be
loaded, an internal error).

Speed comes from overlapping work: a thread pool reads and decodes images (OpenCV releases the GIL; large JPEGs are
decoded at a reduced scale), while the main thread runs the model on batches. The decoding and preprocessing code
is the service's own (``Model.prepare``), so the CLI and the HTTP API see identical pixels.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from service.cli_inputs import Source, expand_inputs, read_source
from service.cli_streams import configure_cli_logging, protected_streams
from service.config import Settings
from service.errors import ModelNotFound, ServiceError

if TYPE_CHECKING:
    from service.inference import Model

log = logging.getLogger("classify")

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_MODEL = "flowers"


def build_parser() -> argparse.ArgumentParser:
    """The command line; ``--help`` is the user's reference, so every option says what it is for."""
    parser = argparse.ArgumentParser(
        prog="classify",
        description="Classify images; print one JSON line per image on stdout: "
        '{"<name>": {"score": <probability>, "class": "<label>"}}. Everything else goes to stderr.',
        epilog="Exit status: 0 all images classified, 1 some failed (reported on stderr, the rest printed), "
        "2 nothing could be run (usage error, model not loadable, internal error). "
        "Environment: CLASSIFIER_MODELS_DIR, CLASSIFIER_MAX_PIXELS, CLASSIFIER_INFERENCE_THREADS.",
    )
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT",
        help="image folder, image file, glob pattern (quote it, e.g. 'images/*/img_???.jpg') or http(s) URL",
    )
    parser.add_argument("-r", "--recursive", action="store_true", help="also classify images in sub-folders")
    model = parser.add_argument_group("model")
    model.add_argument("-m", "--model", default=DEFAULT_MODEL, help="bundled model name (default: %(default)s)")
    model.add_argument("--models-dir", type=Path, help="folder of bundled models (default: CLASSIFIER_MODELS_DIR "
                       "or the project's models/)")
    model.add_argument("--model-path", type=Path, help="an external .tflite, .onnx or .keras file instead of --model")
    model.add_argument("--labels", type=Path, help="class names for --model-path: text (one per line) or a JSON "
                       "list; not needed when a manifest.json lies beside the model file")
    output = parser.add_argument_group("output")
    output.add_argument("-k", "--top-k", type=_positive_int, default=1, metavar="K",
                        help="also list the K most likely classes under \"top_k\" (the line keeps its one key)")
    output.add_argument("-q", "--quiet", action="store_true", help="print nothing on stderr but fatal errors")
    output.add_argument("-v", "--verbose", action="count", default=0, help="more detail on stderr (-vv: debug)")
    tuning = parser.add_argument_group("performance and limits")
    tuning.add_argument("--batch-size", type=_positive_int, default=32, help="images per model call (default: 32)")
    tuning.add_argument("-j", "--workers", type=_positive_int, default=max(2, os.cpu_count() or 1),
                        help="threads reading and decoding images (default: %(default)s)")
    tuning.add_argument("--timeout", type=_positive_float, default=10.0,
                        help="seconds to wait for a URL's server (default: %(default)s)")
    tuning.add_argument("--max-bytes", type=_positive_int, default=50 * 1024 * 1024,
                        help="largest file or download read, in bytes (default: %(default)s)")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit status (0, 1 or 2)."""
    args = build_parser().parse_args(argv)
    with protected_streams(args.quiet) as streams:
        configure_cli_logging(streams.messages, quiet=args.quiet, verbosity=args.verbose)
        try:
            return run(args, streams.results, streams.messages)
        except KeyboardInterrupt:
            log.error("interrupted")
            return 130
        except Exception:  # a bug, not a bad image: say so on the real stderr, even with -q, and never exit 1
            log.exception("internal error; please report it with this message")
            return EXIT_USAGE


def run(args: argparse.Namespace, results: TextIO, messages: TextIO) -> int:
    """Expand inputs, load the model, classify; returns the exit status. Split from ``main`` for its streams."""
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        log.error("%s", exc)
        return EXIT_USAGE
    sources, problems = expand_inputs(args.inputs, recursive=args.recursive)
    for problem in problems:
        log.warning("%s: %s", problem.argument, problem.reason)
    try:
        model = load_model(args, settings)
    except ServiceError as exc:
        log.error("%s", exc.message)
        return EXIT_USAGE
    log.info("model %s version %s (%s); %d images", model.name, model.manifest.version, model.runtime_name,
             len(sources))
    classifier = BatchClassifier(model, settings.max_pixels, args)
    try:
        failed = classifier.run(sources, results, progress_stream=None if args.quiet else messages)
    except BrokenPipeError:
        log.debug("stdout was closed by its reader; stopping")
        return EXIT_OK
    if failed or problems:
        log.warning("%d of %d images failed%s", failed, len(sources),
                    f"; {len(problems)} inputs gave no image" if problems else "")
        return EXIT_SOME_FAILED
    return EXIT_OK


def load_model(args: argparse.Namespace, settings: Settings) -> Model:
    """The bundled model named by ``--model`` or an external file from ``--model-path``, via the inference layer.

    Imported here, not at module level, so ``classify --help`` and usage errors answer without loading LiteRT.
    """
    from service.inference import ModelRegistry
    from service.inference.external import load_external_model

    if args.model_path is not None:
        return load_external_model(args.model_path, args.labels, settings.inference_threads)
    if args.labels is not None:
        log.warning("--labels is only used with --model-path; ignored")
    models_dir = args.models_dir or settings.models_dir
    registry = ModelRegistry.from_directory(models_dir, (args.model,), settings.inference_threads)
    if args.model in registry.errors:
        raise ModelNotFound(f"model {args.model!r}: {registry.errors[args.model]}")
    return registry.get(args.model)


@dataclass
class Prepared:
    source: Source
    input: np.ndarray | None = None
    error: str | None = None


class BatchClassifier:
    """Reads and decodes in a thread pool, classifies in batches, writes lines in input order."""

    def __init__(self, model: Model, max_pixels: int, args: argparse.Namespace) -> None:
        self.model = model
        self.max_pixels = max_pixels
        self.batch_size = args.batch_size
        self.workers = args.workers
        self.top_k = args.top_k
        self.timeout = args.timeout
        self.max_bytes = args.max_bytes

    def prepare(self, source: Source) -> Prepared:
        """Runs in a worker thread: bytes -> network input, or the reason it could not be made."""
        try:
            data = read_source(source, timeout=self.timeout, max_bytes=self.max_bytes)
            return Prepared(source, input=self.model.prepare(data, self.max_pixels))
        except ServiceError as exc:
            return Prepared(source, error=exc.message)
        except Exception as exc:  # noqa: BLE001 - one bad image must never stop the run
            log.debug("unexpected error on %s", source.location, exc_info=True)
            return Prepared(source, error=f"{type(exc).__name__}: {exc}")

    def run(self, sources: list[Source], results: TextIO, progress_stream: TextIO | None) -> int:
        """Classify every source, writing each line as soon as its batch is done; returns the failure count."""
        from tqdm import tqdm

        failed = 0
        batch: list[Prepared] = []
        show_bar = progress_stream is not None and progress_stream.isatty()
        with (
            ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="decode") as pool,
            tqdm(total=len(sources), unit="img", file=progress_stream, disable=not show_bar, leave=False) as bar,
        ):
            try:
                for future in self._in_order(pool, sources):
                    # Do not hold finished lines back while the next image is still on its way (a slow URL).
                    if batch and not future.done():
                        self._emit(batch, results)
                        bar.update(len(batch))
                        batch = []
                    item = future.result()
                    if item.error is not None:
                        failed += 1
                        bar.update(1)
                        log.warning("skipped %s: %s", item.source.location, item.error)
                        continue
                    batch.append(item)
                    if len(batch) >= self.batch_size:
                        self._emit(batch, results)
                        bar.update(len(batch))
                        batch = []
                if batch:
                    self._emit(batch, results)
                    bar.update(len(batch))
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        return failed

    def _in_order(self, pool: ThreadPoolExecutor, sources: list[Source]) -> Iterator[Future[Prepared]]:
        """Futures in input order, keeping a bounded number in flight so memory stays flat on huge folders."""
        window = max(2 * self.batch_size, 4 * self.workers)
        pending: deque[Future[Prepared]] = deque()
        remaining = iter(sources)
        for source in remaining:
            pending.append(pool.submit(self.prepare, source))
            if len(pending) >= window:
                break
        while pending:
            future = pending.popleft()
            following = next(remaining, None)
            if following is not None:
                pending.append(pool.submit(self.prepare, following))
            yield future

    def _emit(self, batch: list[Prepared], results: TextIO) -> None:
        predictions = self.model.classify([item.input for item in batch])
        for item, prediction in zip(batch, predictions, strict=True):
            results.write(format_line(item.source.name, prediction.probabilities, self.model.labels, self.top_k,
                                      recognised=prediction.recognised))
            results.write("\n")
            results.flush()


NOT_A_DIGIT = "not_a_digit"


def format_line(name: str, probabilities: np.ndarray, labels: Sequence[str], top_k: int = 1,
                recognised: bool = True) -> str:
    """``{"name": {"score": p, "class": label}}``, plus ``"top_k"`` when more than one class is asked for.

    A digit model's refusal keeps the same one-key shape: ``"class": "not_a_digit"``, with the best digit's score
    (below the model's threshold) as ``"score"``.
    """
    order = np.argsort(probabilities)[::-1][: max(1, top_k)]
    best = int(order[0])
    body: dict[str, object] = {"score": round(float(probabilities[best]), 4),
                               "class": labels[best] if recognised else NOT_A_DIGIT}
    if top_k > 1:
        body["top_k"] = [{"class": labels[int(i)], "score": round(float(probabilities[int(i)]), 4)} for i in order]
    return json.dumps({name: body}, ensure_ascii=False)


if __name__ == "__main__":
    sys.exit(main())
