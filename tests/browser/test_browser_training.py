"""The page at /train in a real browser: start a small training run through the API and watch its curves grow.

Needs the training API (``POST /api/v1/train``, ``GET /api/v1/train/<key>``) and ../shared/data/mnist.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import VIEWPORTS
from tests.conftest import MODELS_DIR, SHARED_DATA
from tests.test_gunicorn import Server

TOKEN = "page-test-token"
# Small and quick: a multilayer perceptron, a few epochs; nothing published.
CONFIG = {"dataset": "MnistDataset", "dataset_args": {"image_size": [28, 28, 1]}, "model": "DigitModel",
          "network": "mlp", "network_args": {"activation": "relu", "dropout_amount": 0.2},
          "train_args": {"batch_size": 256, "epochs": 4}, "save_weights": False}


@pytest.fixture(scope="module")
def training_server(tmp_path_factory) -> Iterator[Server]:
    """Its own copy of the digit model, so a run can never touch the repository's models/."""
    models = tmp_path_factory.mktemp("models")
    shutil.copytree(MODELS_DIR / "mnist", models / "mnist")
    srv = Server(models, tmp_path_factory.mktemp("gunicorn") / "server.log", CLASSIFIER_ADMIN_TOKEN=TOKEN)
    try:
        srv.wait_listening()
        yield srv
    finally:
        srv.stop()


@pytest.mark.slow
def test_a_training_run_draws_its_curves(open_page, screenshot, training_server):
    if not (SHARED_DATA / "mnist" / "mnist.npz").is_file():
        pytest.skip(f"{SHARED_DATA / 'mnist' / 'mnist.npz'} is absent (training reads MNIST from ../shared/data)")
    page = open_page("desktop")
    page.goto(training_server.url + "/train")
    expect(page.locator("table[data-model=mnist] .badge")).to_have_text("default")
    page.fill("#token", TOKEN)
    page.fill("#config", json.dumps(CONFIG, indent=2))
    page.click("#start")
    expect(page.locator("#start-message")).to_have_text(re.compile(r"^Run \S+ started\.$"), timeout=15_000)
    chart = page.locator("#loss-chart")
    expect(chart.locator("circle.point.loss")).not_to_have_count(0, timeout=240_000)
    screenshot(page, "7-training-first-epoch-desktop")
    first = chart.locator("circle.point.loss").count()
    expect(chart.locator("circle.point.loss")).not_to_have_count(first, timeout=240_000)
    assert chart.locator("circle.point.loss").count() > first
    expect(page.locator("#epochs tbody tr")).not_to_have_count(0)
    screenshot(page, "8-training-curve-grows-desktop")
    page.set_viewport_size(VIEWPORTS["phone"])
    screenshot(page, "8-training-curve-grows-phone")
    if page.locator("#cancel").is_visible():
        page.click("#cancel")  # spare the machine the remaining epochs
        expect(page.locator("#run-status")).to_contain_text("cancelled", timeout=60_000)
