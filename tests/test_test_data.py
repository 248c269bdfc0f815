"""The shipped digit model on the project's own photo-like test images (``test-data/``), end to end from bytes.

Two sets: ``test-data/photos`` (+ ``special``), which the preprocessing was tuned on, must reach 95 %;
``test-data/unseen``, made by a differently seeded recipe nobody tuned on, stands for real photos and must
reach 90 %. The broken files must be refused with the right error, and nothing may crash.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import cv2
import numpy as np
import pytest

from service.errors import InvalidImage, PayloadTooLarge, ServiceError, UnsupportedMediaType
from service.inference import Model, ModelRegistry
from service.preprocessing import decode_image, to_mnist

REPO = Path(__file__).resolve().parent.parent
TEST_DATA = REPO / "test-data"
MODEL_DIR = REPO / "models" / "mnist"
MAX_PIXELS = 40_000_000
CLASSIFIED_KINDS = ("photo-mnist", "photo-font", "mnist28", "alpha", "png16", "exif")
BROKEN_ERRORS = {
    "broken-empty": InvalidImage,
    "broken-truncated": InvalidImage,
    "broken-corrupt": InvalidImage,
    "broken-not-image": UnsupportedMediaType,
    "broken-too-large": PayloadTooLarge,
}


def rows(labels: Path) -> list[dict[str, str]]:
    if not labels.is_file():
        pytest.skip(f"{labels} is missing: run test-data/make_test_data.py")
    with labels.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def mnist() -> Model:
    if not any(MODEL_DIR.glob("*/manifest.json")):
        pytest.skip(f"no shipped digit model under {MODEL_DIR} (models/mnist/<version>/manifest.json)")
    return ModelRegistry.from_directory(REPO / "models", ("mnist",)).get("mnist")


@functools.cache
def answer(model: Model, path: Path):
    """The model's answer for one file, read and classified once for all the tests that look at it."""
    return model.classify_bytes(path.read_bytes(), MAX_PIXELS)


def accuracy(model: Model, folder: Path, labelled: list[dict[str, str]]) -> tuple[float, list[str]]:
    """Share of images classified right, and a line per miss (file, truth, prediction, notes)."""
    misses = []
    for row in labelled:
        prediction = answer(model, folder / row["file"])
        if prediction.label != row["label"]:
            misses.append(f"{row['file']}: {row['label']} -> {prediction.label} ({prediction.probability:.2f}) "
                          f"{row['notes']}")
    return 1 - len(misses) / len(labelled), misses


def test_labels_list_every_file_and_enough_photos() -> None:
    for labels in (TEST_DATA / "labels.csv", TEST_DATA / "unseen" / "labels.csv"):
        listed = rows(labels)
        for row in listed:
            assert (labels.parent / row["file"]).is_file(), row["file"]
        photos = [r for r in listed if r["kind"].startswith("photo-")]
        assert len(photos) >= 100
        assert {r["label"] for r in photos} == {str(d) for d in range(10)}


def test_photo_like_images_at_least_95_percent(mnist: Model) -> None:
    labelled = [r for r in rows(TEST_DATA / "labels.csv") if r["kind"] in CLASSIFIED_KINDS]
    score, misses = accuracy(mnist, TEST_DATA, labelled)
    print(f"\ntest-data photos+special: {score:.1%} of {len(labelled)}")
    assert score >= 0.95, f"{score:.1%} on {len(labelled)} images; misses:\n" + "\n".join(misses)


def test_unseen_photo_like_images_at_least_90_percent(mnist: Model) -> None:
    labelled = rows(TEST_DATA / "unseen" / "labels.csv")
    score, misses = accuracy(mnist, TEST_DATA / "unseen", labelled)
    print(f"\ntest-data unseen: {score:.1%} of {len(labelled)}")
    assert score >= 0.90, f"{score:.1%} on {len(labelled)} images; misses:\n" + "\n".join(misses)


def test_few_digit_photos_are_refused_as_not_a_digit(mnist: Model) -> None:
    """The accuracy tests read the network's answer even when the gate refuses it; a user gets the refusal.
    Measured with the shipped model (version 8, whose threshold refuses 98% of the held-out non-digits): 10 of the
    137 digits of test-data/ and 10 of unseen's 100. Version 7 (its threshold set to refuse 2% of the held-out
    rendered digits) refused 9 and 7, version 6 8 and 8, version 3 10 and 7. A model trained without augmentation,
    its threshold chosen on renders, refused 14 and 16 and fails here."""
    for folder in (TEST_DATA, TEST_DATA / "unseen"):
        labelled = [r for r in rows(folder / "labels.csv") if r["kind"] in CLASSIFIED_KINDS]
        refused = [r["file"] for r in labelled if not answer(mnist, folder / r["file"]).recognised]
        assert len(refused) <= 0.10 * len(labelled), f"{folder.name}: {len(refused)} of {len(labelled)} refused: {refused}"


@pytest.mark.parametrize("kind", sorted(BROKEN_ERRORS))
def test_broken_files_are_refused_with_a_clear_error(kind: str) -> None:
    broken = [r for r in rows(TEST_DATA / "labels.csv") if r["kind"] == kind]
    assert broken
    for row in broken:
        with pytest.raises(BROKEN_ERRORS[kind]) as caught:
            decode_image((TEST_DATA / row["file"]).read_bytes(), max_pixels=MAX_PIXELS)
        assert isinstance(caught.value, ServiceError) and caught.value.message


def test_special_files_decode_to_8_bit_and_upright() -> None:
    special = {r["file"]: r for r in rows(TEST_DATA / "labels.csv") if r["file"].startswith("special/")}
    for name in ("special/png16-gray-3.png", "special/png16-rgb-8.png", "special/alpha-2.png"):
        image = decode_image((TEST_DATA / name).read_bytes())
        assert image.dtype == np.uint8 and image.ndim == 3, name
    alpha = decode_image((TEST_DATA / "special/alpha-2.png").read_bytes(), grayscale=True)
    assert alpha[0, 0] == 255  # transparent canvas -> white paper, not the hidden blue
    for name in (n for n in special if "/exif" in n):
        stored = np.frombuffer((TEST_DATA / name).read_bytes(), np.uint8)
        upright = decode_image(stored.tobytes())
        if "exif3" not in name:  # a quarter turn swaps the sides
            raw = cv2.imdecode(stored, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
            assert upright.shape[:2] == raw.shape[1::-1], name


def test_blank_paper_photo_has_no_digit() -> None:
    data = (TEST_DATA / "special" / "nodigit-blank-paper.jpg").read_bytes()
    assert not to_mnist(decode_image(data, grayscale=True)).any()


def test_not_a_digit_does_not_crash(mnist: Model) -> None:
    for row in rows(TEST_DATA / "labels.csv"):
        if row["kind"] != "not-a-digit":
            continue
        prediction = mnist.classify_bytes((TEST_DATA / row["file"]).read_bytes(), MAX_PIXELS)
        assert prediction.label in mnist.labels
        assert float(prediction.probabilities.sum()) == pytest.approx(1.0, abs=1e-4)
