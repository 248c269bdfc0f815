"""Images per second of the ``classify`` CLI on a folder of photos, against the decode-only limit.

Why: the CLI's speed is bounded by JPEG decoding or by the model (the mirror-averaged flowers network costs about 3 ms
per image); this script shows how close the whole tool (process start, model load, threaded decode, batched
inference, JSON lines) gets to that bound.

    .venv/bin/python bench/cli_throughput.py --make 1000 --folder /tmp/cli-bench/photos --model flowers

``--make N`` first writes N JPEGs of about 1000x800 made from ../shared/data/flowers (never into the repository).
``--model-path`` measures an external .tflite instead of a bundled model (e.g. when models/flowers is absent).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from service.cli_inputs import expand_inputs  # noqa: E402
from service.inference import ModelRegistry  # noqa: E402
from service.inference.external import load_external_model  # noqa: E402


def make_photos(count: int, folder: Path, source: Path, size: tuple[int, int] = (1000, 800)) -> None:
    """Upscaled flower photos as stand-ins for camera pictures: the decoder's work is what matters here."""
    originals = sorted(source.glob("*/*.jpg"))[:count]
    if len(originals) < count:
        raise SystemExit(f"only {len(originals)} photos under {source}")
    folder.mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(originals):
        image = cv2.resize(cv2.imread(str(path)), size, interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(folder / f"photo_{i:04d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 90])


def timed_pool(function, items, workers: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): CPU time is what stays comparable on a shared machine."""
    start, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(function, items):
            pass
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/cli-bench/photos"))
    parser.add_argument("--make", type=int, default=0, help="first write this many photos into --folder")
    parser.add_argument("--model", default="flowers")
    parser.add_argument("--model-path", type=Path)
    parser.add_argument("--labels", type=Path)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if args.make:
        make_photos(args.make, args.folder, REPO.parent / "shared" / "data" / "flowers")
    sources, _ = expand_inputs([str(args.folder)])
    files = [s.location for s in sources]
    if args.model_path:
        model = load_external_model(args.model_path, args.labels)
        model_args = ["--model-path", str(args.model_path)] + (["--labels", str(args.labels)] if args.labels else [])
    else:
        model = ModelRegistry.from_directory(REPO / "models", (args.model,)).get(args.model)
        model_args = ["--model", args.model]
    data = [Path(f).read_bytes() for f in files]
    n = len(files)
    print(f"{n} photos in {args.folder}, model {model.name} {model.manifest.input_shape}, {os.cpu_count()} CPUs")
    def full_decode(data: bytes):
        return cv2.imdecode(_buf(data), cv2.IMREAD_COLOR)

    results = {
        "full-size decode, 1 thread": timed_pool(full_decode, data, 1),
        f"full-size decode, {args.workers} threads": timed_pool(full_decode, data, args.workers),
        f"model.decode (reduced), {args.workers} threads": timed_pool(lambda b: model.decode(b, 40_000_000), data,
                                                                      args.workers),
        f"read+decode+preprocess, {args.workers} threads": timed_pool(
            lambda f: model.prepare(Path(f).read_bytes(), 40_000_000), files, args.workers
        ),
    }
    inputs = [model.prepare(b, 40_000_000) for b in data]
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, n, 32):
        model.classify(inputs[i : i + 32])
    results["inference only, batches of 32 (1 LiteRT thread)"] = time.perf_counter() - start, time.process_time() - cpu
    start, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-m", "service.cli", "-q", *model_args, str(args.folder)],
                          cwd=REPO, capture_output=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cli_cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    results["classify CLI end to end (incl. start-up, model load)"] = time.perf_counter() - start, cli_cpu
    lines = done.stdout.count(b"\n")
    print(f"{'':55s} {'wall':>8s} {'images/s':>9s} {'CPU s':>7s} {'images/CPU-s':>12s}")
    for name, (seconds, cpu_seconds) in results.items():
        print(f"{name:55s} {seconds:7.2f}s {n / seconds:9.1f} {cpu_seconds:7.2f} {n / cpu_seconds:12.1f}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (2 cores shared with other work)")
    print(f"CLI exit status {done.returncode}, {lines} result lines")


def _buf(data: bytes):
    import numpy as np

    return np.frombuffer(data, np.uint8)


if __name__ == "__main__":
    main()
