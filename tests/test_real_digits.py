"""The digit model on real handwritten digits and on real things that are not digits (slow; CI runs them).

``../shared/data/real-digits`` holds phone photos, drawings and scans of single digits from public repositories;
none of them was used to train or tune. They are posted to ``/mnist/classify`` on a server started by
``make serve``, as a user would. The refusal rates are measured in-process on samples of the photos and rendered
non-digits the training never saw (flower validation photos, mug eval/ photos, pages and scribbles from another
seed of the generator).
"""

from __future__ import annotations

import csv
import os
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import requests

from service.config import REPO_ROOT
from tests.conftest import MODELS_DIR, SHARED_DATA, encode
from tests.test_gunicorn import free_port

REAL = SHARED_DATA / "real-digits"
# The least share read right per kind; the shipped model reads photos 99/101, drawings 43/43, scans 9/9.
FLOORS = {"photo": 0.98, "drawn": 0.97, "scan": 0.95}
MAX_PIXELS = 40_000_000

pytestmark = pytest.mark.slow


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/data is beside the repository in CI)")
    return path


@pytest.fixture(scope="module")
def make_serve(tmp_path_factory):
    """``make serve`` on a free loopback port, as the README tells a user to start it."""
    port = free_port()
    log = (tmp_path_factory.mktemp("serve") / "serve.log").open("w")
    env = dict(os.environ, HOST="127.0.0.1", PORT=str(port), CLASSIFIER_ACCESS_LOG="0")
    process = subprocess.Popen(["make", "serve"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, f"make serve exited; see {log.name}"
        try:
            if requests.get(url + "/readyz", timeout=1).status_code == 200:
                break
        except requests.RequestException:  # refused, or a read timeout while the workers load the models
            pass
        time.sleep(0.2)
    else:
        pytest.fail(f"make serve did not get ready; see {log.name}")
    yield url
    os.killpg(process.pid, 15)
    process.wait(timeout=30)
    log.close()


def test_real_digits_through_make_serve(make_serve):
    rows = list(csv.DictReader((need(REAL) / "labels.csv").open()))
    right: dict[str, list[bool]] = defaultdict(list)
    refused, wrong = [], []
    for row in rows:
        with (REAL / row["file"]).open("rb") as f:
            response = requests.post(make_serve + "/mnist/classify", files={"image": (Path(row["file"]).name, f)},
                                     timeout=30)
        body = response.json()
        if response.status_code == 404 and body.get("code") == "not_a_digit":
            refused.append(row["file"])
            right[row["kind"]].append(False)
            continue
        assert response.status_code == 200, (row["file"], body)
        right[row["kind"]].append(body["classification"] == row["label"])
        if body["classification"] != row["label"]:
            wrong.append((row["file"], row["label"], body["classification"], body["score"]))
    assert not refused, f"real digits refused as not a digit: {refused}"
    for kind, floor in FLOORS.items():
        rate = float(np.mean(right[kind]))
        assert rate >= floor, f"{kind}: {rate:.1%} < {floor:.0%}; misses {wrong}"


@pytest.fixture(scope="module")
def mnist_model():
    from service.inference import ModelRegistry

    model = ModelRegistry.from_directory(MODELS_DIR, ("mnist",)).get("mnist")
    assert model.gate is not None, "the shipped digit model has no not-a-digit threshold in its manifest"
    return model


def refusal_rate(model, payloads: list[bytes]) -> float:
    return float(np.mean([not model.classify_bytes(data, MAX_PIXELS).recognised for data in payloads]))


def test_photos_and_drawings_of_other_things_are_not_digits(mnist_model):
    """Real photos (flowers of the validation split and mugs of eval/, both unseen by the digit network) and
    rendered pages, scribbles, letters and textures from a seed the training did not use."""
    from training.datasets import synthetic_photos
    from training.synth.negatives import render_negative_kind

    _, held_photos = synthetic_photos(need(SHARED_DATA / "flowers").parent)
    photos = [p.read_bytes() for p in held_photos[::6]]
    rng = np.random.default_rng(20261202)
    rendered = [encode(render_negative_kind(rng, [])[0]) for _ in range(200)]
    photo_rate, rendered_rate = refusal_rate(mnist_model, photos), refusal_rate(mnist_model, rendered)
    # Measured with the shipped model (version 8): 99.1% of the 228 photos (93 of the 95 flowers, all 133 mugs), 98.0%
    # of the 200 renders (blank pages 39/39, glyphs 55/55, textures 69/70, scribbles 33/36). Version 7, the same
    # weights with a threshold refusing 2% of the held-out rendered digits instead of 98% of the non-digits: 97.4% of
    # the photos (91 flowers, 131 mugs: those are 64x64 thumbnails, which take the path for small scans) and the same
    # renders (before the checks for a stroke running across the picture and for a flat dash: 95.5%). Version 6
    # refused 94.3% of the photos (124 mugs); version 3 97.4% (89 flowers, all mugs).
    assert photo_rate >= 0.97, f"{photo_rate:.1%} of {len(photos)} photos refused"
    assert rendered_rate >= 0.95, f"{rendered_rate:.1%} of {len(rendered)} rendered non-digits refused"


def test_real_photos_from_another_source_are_not_digits(mnist_model):
    """Photos neither made nor trained on here: scikit-image's bundled sample images (a cat, an astronaut, coffee,
    a rocket, coins, a camera man, a page of text, textures, micrographs, ...) and its 200 faces from Labeled Faces
    in the Wild, read from the installed package (no download)."""
    import skimage.data

    folder = Path(skimage.data.__file__).parent
    photos = [p.read_bytes() for p in sorted([*folder.glob("*.png"), *folder.glob("*.jpg")])]
    faces = [encode(np.rint(face * 255).astype(np.uint8)) for face in np.load(folder / "lfw_subset.npy")]
    assert len(photos) >= 20 and len(faces) == 200
    photo_rate, face_rate = refusal_rate(mnist_model, photos), refusal_rate(mnist_model, faces)
    # Measured with the shipped model (version 8): 25 of 26 photos (the one let through is the Shepp-Logan phantom, an
    # ellipse, read as "0") and 200 of 200 faces. Version 7: 25 of 26 and 199 (196 before the check for a flat dash).
    # Version 6: 25 of 26 and 198.
    assert photo_rate >= 0.9, f"{photo_rate:.1%} of {len(photos)} photos refused"
    assert face_rate >= 0.98, f"{face_rate:.1%} of {len(faces)} faces refused"


def test_few_mnist_test_digits_and_no_real_digit_are_refused(mnist_model):
    with np.load(need(SHARED_DATA / "mnist" / "mnist.npz")) as data:
        digits = data["x_test"][::5]
    assert refusal_rate(mnist_model, [encode(d) for d in digits]) <= 0.01
    rows = list(csv.DictReader((need(REAL) / "labels.csv").open()))
    refused = [r["file"] for r in rows if not mnist_model.classify_bytes((REAL / r["file"]).read_bytes(),
                                                                          MAX_PIXELS).recognised]
    assert not refused


def test_the_scores_of_real_digits_are_calibrated(mnist_model):
    """The scores a user sees for real digits (the served network's outputs divided by the manifest's temperature,
    which was fitted on held-out MNIST and rendered digits, never on these): expected calibration error, 15 bins.
    Measured with the shipped model (version 8: version 7's weights and temperature, 1.12): 1.70% before the
    temperature and 1.78% after, at 98.7% accuracy and 98.0% mean confidence. With 153 pictures a few confident
    misses move it by a point."""
    from training.calibration import expected_calibration_error, softmax

    rows = list(csv.DictReader((need(REAL) / "labels.csv").open()))
    x = np.stack([mnist_model.prepare((REAL / r["file"]).read_bytes(), MAX_PIXELS) for r in rows])
    outputs, labels = mnist_model.outputs(x), np.array([int(r["label"]) for r in rows])
    served = mnist_model.calibrated(outputs)
    np.testing.assert_allclose(served, softmax(outputs, mnist_model.manifest.temperature), rtol=1e-5)
    before, after = (expected_calibration_error(p, labels) for p in (softmax(outputs), served))
    print(f"\nreal-digits ECE: {before:.2%} before the temperature, {after:.2%} after")
    assert after <= 0.03, f"ECE {after:.2%} on {len(rows)} real digits"
