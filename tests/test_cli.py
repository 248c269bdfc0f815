"""The ``classify`` command, run as users run it: a real subprocess, real TFLite/Keras model files, real HTTP.

The model under test is built here (session fixture): it averages each RGB channel and says which is strongest, so
a pure red photo must come out "red". That makes the checks able to fail on channel order, on a double softmax and
on wrong file-to-line pairing, without depending on a trained model being in the repository.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from service.cli import format_line
from service.cli_inputs import expand_inputs
from service.cli_streams import protected_streams
from service.config import REPO_ROOT
from tests.conftest import SHARED_DATA

COLOURS = {"red": (0, 0, 255), "green": (0, 255, 0), "blue": (255, 0, 0)}  # BGR, as OpenCV writes them
LABELS = ["red", "green", "blue"]

BUILD_MODELS = textwrap.dedent(
    """
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np, tensorflow as tf, keras

    out = sys.argv[1]

    def channel_model(activation):
        model = keras.Sequential([
            keras.Input((16, 16, 3)),
            keras.layers.Rescaling(1 / 255.0),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation=activation),
        ])
        model.layers[-1].set_weights([np.eye(3, dtype="float32") * 10, np.zeros(3, "float32")])
        return model

    bundled = os.path.join(out, "models", "colours", "1")
    os.makedirs(bundled)
    tflite = tf.lite.TFLiteConverter.from_keras_model(channel_model(None)).convert()
    open(os.path.join(bundled, "model.tflite"), "wb").write(tflite)
    manifest = {"name": "colours", "version": "1", "labels": ["red", "green", "blue"],
                "input": {"shape": [16, 16, 3], "dtype": "float32", "range": [0, 255]},
                "preprocessing": {"kind": "rgb", "size": [16, 16]}, "output": "logits",
                "files": {"tflite": "model.tflite"}}
    json.dump(manifest, open(os.path.join(bundled, "manifest.json"), "w"))
    external = os.path.join(out, "external")
    os.makedirs(external)
    open(os.path.join(external, "bare.tflite"), "wb").write(tflite)
    channel_model("softmax").save(os.path.join(external, "softmax.keras"))
    """
)


@pytest.fixture(scope="session")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundled ``models/colours/1`` (TFLite, logits) and bare external files; built once, in a subprocess."""
    if importlib.util.find_spec("tensorflow") is None:  # checked without importing it into the test process
        pytest.skip("building the test model needs TensorFlow (requirements-train.txt)")
    root = tmp_path_factory.mktemp("cli-models")
    subprocess.run([sys.executable, "-c", BUILD_MODELS, str(root)], check=True, capture_output=True, timeout=300)
    return root


def write_image(path: Path, colour: str, size: tuple[int, int] = (60, 80)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.zeros((*size, 3), np.uint8)
    image[:] = COLOURS[colour]
    assert cv2.imwrite(str(path), image)
    return path


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    write_image(folder / "a_red.jpg", "red")
    write_image(folder / "b_green.png", "green")
    write_image(folder / "c_blue.jpeg", "blue", size=(900, 1200))  # large: exercises reduced-resolution decode
    return folder


def classify(*args: str | Path, models: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "service.cli", *map(str, args)]
    if models is not None:
        command += ["--models-dir", str(models / "models"), "--model", "colours"]
    return subprocess.run(command, capture_output=True, cwd=REPO_ROOT, timeout=timeout)


def result_lines(stdout: bytes) -> list[dict]:
    """Every stdout line must be one JSON object with one key: anything else fails the test."""
    records = []
    for line in stdout.decode("utf-8").splitlines():
        record = json.loads(line)
        assert isinstance(record, dict) and len(record) == 1, line
        (body,) = record.values()
        assert 0.0 <= body["score"] <= 1.0, line
        records.append(record)
    return records


def as_classes(records: list[dict]) -> dict[str, str]:
    return {name: body["class"] for record in records for name, body in record.items()}


def test_folder_gives_one_line_per_image_in_the_brief_shape(model_files: Path, photos: Path) -> None:
    done = classify(photos, models=model_files)
    assert done.returncode == 0, done.stderr.decode()
    records = result_lines(done.stdout)
    assert [list(r) for r in records] == [["a_red.jpg"], ["b_green.png"], ["c_blue.jpeg"]]
    assert as_classes(records) == {"a_red.jpg": "red", "b_green.png": "green", "c_blue.jpeg": "blue"}
    assert set(records[0]["a_red.jpg"]) == {"score", "class"}
    assert records[0]["a_red.jpg"]["score"] > 0.99  # softmax([10, 0, 0]); not softmax applied twice


def test_broken_files_are_skipped_reported_and_exit_1(model_files: Path, photos: Path) -> None:
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (photos / "empty.png").write_bytes(b"")
    (photos / "notes.txt").write_text("not an image, and not picked from a folder")
    done = classify(photos, models=model_files)
    assert done.returncode == 1
    assert as_classes(result_lines(done.stdout)) == {"a_red.jpg": "red", "b_green.png": "green", "c_blue.jpeg": "blue"}
    stderr = done.stderr.decode()
    assert "broken.jpg" in stderr and "empty.png" in stderr and "notes.txt" not in stderr


def test_quiet_leaves_stderr_empty_even_with_failures(model_files: Path, photos: Path) -> None:
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    done = classify("-q", photos, photos / "missing.jpg", models=model_files)
    assert done.returncode == 1
    assert done.stderr == b""
    assert len(result_lines(done.stdout)) == 3


def test_explicit_non_image_file_and_missing_path_are_failures(model_files: Path, tmp_path: Path) -> None:
    good = write_image(tmp_path / "x.png", "green")
    text = tmp_path / "readme.txt"
    text.write_text("hello")
    done = classify(good, text, tmp_path / "nope.jpg", models=model_files)
    assert done.returncode == 1
    assert as_classes(result_lines(done.stdout)) == {"x.png": "green"}
    assert "readme.txt" in done.stderr.decode() and "nope.jpg" in done.stderr.decode()


def test_recursive_names_are_paths_relative_to_the_folder(model_files: Path, photos: Path) -> None:
    write_image(photos / "deeper" / "d_red.png", "red")
    flat = classify(photos, models=model_files)
    deep = classify("--recursive", photos, models=model_files)
    assert "deeper/d_red.png" not in as_classes(result_lines(flat.stdout))
    assert as_classes(result_lines(deep.stdout))["deeper/d_red.png"] == "red"
    assert deep.returncode == 0


def test_glob_pattern_and_top_k(model_files: Path, tmp_path: Path) -> None:
    write_image(tmp_path / "images" / "one" / "img_001.jpg", "red")
    write_image(tmp_path / "images" / "two" / "img_002.jpg", "blue")
    write_image(tmp_path / "images" / "two" / "img_0003.jpg", "green")  # does not match ???
    done = classify(str(tmp_path / "images" / "*" / "img_???.jpg"), "--top-k", "2", models=model_files)
    assert done.returncode == 0, done.stderr.decode()
    records = result_lines(done.stdout)
    assert as_classes(records) == {"one/img_001.jpg": "red", "two/img_002.jpg": "blue"}
    top = records[0]["one/img_001.jpg"]["top_k"]
    assert [entry["class"] for entry in top][0] == "red" and len(top) == 2


class ImageServer(BaseHTTPRequestHandler):
    """Loopback server with one good image and the ways a URL goes wrong."""

    png = b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        routes = {
            "/red.png": (200, "image/png", self.png),
            "/page.html": (200, "text/html", b"<html>not an image</html>"),
            "/huge.png": (200, "image/png", self.png + b"\0" * 300_000),
        }
        status, content_type, body = routes.get(self.path, (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[str]:
    ok, buf = cv2.imencode(".png", np.full((20, 20, 3), COLOURS["red"], np.uint8))
    ImageServer.png = buf.tobytes()
    server = ThreadingHTTPServer(("127.0.0.1", 0), ImageServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_urls_good_and_bad(model_files: Path, image_server: str) -> None:
    urls = [f"{image_server}/{name}" for name in ("red.png", "missing.png", "page.html", "huge.png")]
    done = classify(*urls, "--max-bytes", "100000", models=model_files)
    assert done.returncode == 1
    assert as_classes(result_lines(done.stdout)) == {urls[0]: "red"}
    stderr = done.stderr.decode()
    assert "404" in stderr and "text/html" in stderr and "limit" in stderr


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="no-input"),
        pytest.param(["--top-k", "0", "x.jpg"], id="top-k-zero"),
        pytest.param(["--batch-size", "many", "x.jpg"], id="batch-size-not-a-number"),
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    done = classify(*args)
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"usage:" in done.stderr


def test_unknown_model_exits_2_with_a_clear_message(model_files: Path, photos: Path) -> None:
    done = classify(photos, "--models-dir", model_files / "models", "--model", "giraffes")
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"giraffes" in done.stderr


def test_external_tflite_with_labels_file(model_files: Path, photos: Path, tmp_path: Path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(LABELS) + "\n")
    done = classify(photos, "--model-path", model_files / "external" / "bare.tflite", "--labels", labels)
    assert done.returncode == 0, done.stderr.decode()
    records = result_lines(done.stdout)
    assert as_classes(records)["a_red.jpg"] == "red"
    assert records[0]["a_red.jpg"]["score"] > 0.99


def test_external_model_beside_a_manifest(model_files: Path, photos: Path) -> None:
    done = classify(photos, "--model-path", model_files / "models" / "colours" / "1" / "model.tflite")
    assert done.returncode == 0, done.stderr.decode()
    assert as_classes(result_lines(done.stdout))["b_green.png"] == "green"


@pytest.mark.parametrize(
    "labels, message",
    [(None, b"--labels"), ("red\ngreen\n", b"3 outputs but 2 labels")],
    ids=["no-labels", "label-count-mismatch"],
)
def test_external_model_problems_exit_2(
    model_files: Path, photos: Path, tmp_path: Path, labels: str | None, message: bytes
) -> None:
    args: list[str | Path] = [photos, "--model-path", model_files / "external" / "bare.tflite"]
    if labels is not None:
        (tmp_path / "labels.txt").write_text(labels)
        args += ["--labels", tmp_path / "labels.txt"]
    done = classify(*args)
    assert done.returncode == 2
    assert message in done.stderr and done.stdout == b""


@pytest.mark.slow  # starts TensorFlow in the CLI process (~10 s on 2 cores)
def test_external_keras_model_with_softmax_output(model_files: Path, photos: Path, tmp_path: Path) -> None:
    """A model that already outputs probabilities must not be softmaxed again (score would drop to ~0.58)."""
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(LABELS))
    done = classify(photos, "--model-path", model_files / "external" / "softmax.keras", "--labels", labels)
    assert done.returncode == 0, done.stderr.decode()
    records = result_lines(done.stdout)  # TensorFlow's start-up chatter must not reach stdout either
    assert as_classes(records)["a_red.jpg"] == "red"
    assert records[0]["a_red.jpg"]["score"] > 0.99


def test_output_into_head_ends_quietly(model_files: Path, tmp_path: Path) -> None:
    for i in range(60):
        write_image(tmp_path / "many" / f"img_{i:03d}.png", "blue", size=(20, 20))
    command = [sys.executable, "-m", "service.cli", str(tmp_path / "many"), "--batch-size", "1",
               "--models-dir", str(model_files / "models"), "--model", "colours"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO_ROOT) as process:
        first = process.stdout.readline()
        process.stdout.close()  # what `head -1` does after its first line
        stderr = process.stderr.read()
        status = process.wait(timeout=60)
    assert json.loads(first) == {"img_000.png": {"score": pytest.approx(1.0, abs=1e-3), "class": "blue"}}
    assert status == 0
    assert b"Traceback" not in stderr and b"BrokenPipe" not in stderr


def test_expand_inputs_order_names_and_duplicates(tmp_path: Path) -> None:
    for name in ("b.png", "a.JPG", ".hidden.jpg", "notes.txt", "sub/c.jpeg"):
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x")
    sources, problems = expand_inputs([str(tmp_path), str(tmp_path / "b.png"), "https://example.invalid/x.png"])
    assert [s.name for s in sources] == ["a.JPG", "b.png", "https://example.invalid/x.png"]
    assert sources[-1].is_url and not problems
    sources, _ = expand_inputs([str(tmp_path)], recursive=True)
    assert [s.name for s in sources] == ["a.JPG", "b.png", "sub/c.jpeg"]
    empty = tmp_path / "empty"
    empty.mkdir()
    sources, problems = expand_inputs([str(empty), str(tmp_path / "*.gif")])
    assert sources == [] and [p.argument for p in problems] == [str(empty), str(tmp_path / "*.gif")]


def test_format_line_keeps_one_key_and_rounds() -> None:
    line = format_line("img.jpg", np.array([0.1, 0.25, 0.65], np.float32), ["a", "b", "c"])
    assert json.loads(line) == {"img.jpg": {"score": 0.65, "class": "c"}}


def test_shipped_mnist_model_through_the_cli() -> None:
    """The real bundled digit model, default models folder, on MNIST-style files whose digit is in their name."""
    if not sorted((REPO_ROOT / "models" / "mnist").glob("*/manifest.json")):
        pytest.skip("models/mnist is not in the repository yet")
    digits = sorted((REPO_ROOT / "test-data" / "special").glob("mnist28-*.png"))
    if not digits:
        pytest.skip("test-data/special/mnist28-*.png not generated")
    done = classify("--model", "mnist", str(REPO_ROOT / "test-data" / "special" / "mnist28-*.png"))
    assert done.returncode == 0, done.stderr.decode()
    predicted = as_classes(result_lines(done.stdout))
    assert predicted == {path.name: path.stem.split("-")[1] for path in digits}


@pytest.mark.slow
def test_shipped_flowers_model_on_its_held_out_photos() -> None:
    """The bundled flowers model through the CLI on the validation photos its training run held out: the CLI
    must reproduce the accuracy the training run recorded in the manifest.

    The split is rebuilt with the training code's own function from the seed recorded in the manifest, and checked
    against the recorded hash of the validation file list, so these are exactly the photos nobody trained on.
    """
    manifests = sorted((REPO_ROOT / "models" / "flowers").glob("*/manifest.json"))
    if not manifests:
        pytest.skip("models/flowers is not in the repository yet")
    flowers = SHARED_DATA / "flowers"
    if not flowers.is_dir():
        pytest.skip(f"{flowers} is absent (shared data sets not beside the repository)")
    datasets = pytest.importorskip("training.datasets", reason="rebuilding the split needs the training extras")
    data = json.loads(manifests[-1].read_text()).get("data", {})
    if "split_seed" not in data:
        pytest.skip("the flowers manifest records no validation split (data.split_seed)")
    labels, files, targets = datasets.list_images(flowers)
    _, held_out = datasets.split_indices(len(files), data["validation_split"], data["split_seed"])
    names = "\n".join(str(files[i].relative_to(flowers)) for i in held_out)
    if "validation_files_sha256" in data:
        assert hashlib.sha256(names.encode()).hexdigest() == data["validation_files_sha256"], "split differs"
    expected = {files[i].name: labels[targets[i]] for i in held_out}
    assert len(expected) == len(held_out), "file names repeat across classes; the check needs unique names"
    done = classify("--model", "flowers", *[files[i] for i in held_out], timeout=900)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    predicted = as_classes(result_lines(done.stdout))
    assert set(predicted) == set(expected)
    accuracy = sum(predicted[name] == label for name, label in expected.items()) / len(expected)
    # The CLI's answers must be as right as the model measured by its training run (same decode, same pixels),
    # and at least 83% on photos nobody trained on.
    recorded = json.loads(manifests[-1].read_text()).get("metrics", {}).get("validation_accuracy")
    if recorded is not None:
        assert accuracy == pytest.approx(recorded / 100, abs=0.005), f"CLI {accuracy:.4f} vs training {recorded}%"
    assert accuracy >= 0.83, f"CLI accuracy {accuracy:.4f} on {len(expected)} held-out photos"


@pytest.mark.parametrize("quiet", [False, True], ids=["normal", "quiet"])
def test_writes_to_descriptor_1_never_reach_stdout(capfd: pytest.CaptureFixture[str], quiet: bool) -> None:
    """What TensorFlow/LiteRT print from C lands on stderr (or nowhere with -q); only results reach stdout."""
    with protected_streams(quiet) as streams:
        os.write(1, b"native chatter\n")
        print("a stray print", flush=True)
        streams.messages.write("a fatal error\n")
        streams.results.write('{"a.jpg": {"score": 1.0, "class": "x"}}\n')
    out, err = capfd.readouterr()
    assert out == '{"a.jpg": {"score": 1.0, "class": "x"}}\n'
    assert "a fatal error" in err
    assert ("native chatter" in err and "a stray print" in err) is not quiet
