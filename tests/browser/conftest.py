"""Real-browser fixtures: Debian's chromium driven by Playwright against a real gunicorn on a free loopback port.

No browser is downloaded: Playwright launches ``/usr/bin/chromium`` (``make chromium`` installs it). Screenshots of
every step go to ``var/screenshots/``, named in the test summary.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from service.config import REPO_ROOT
from tests.conftest import MODELS_DIR
from tests.test_gunicorn import Server

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
SCREENSHOTS = REPO_ROOT / "var" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
TAKEN = pytest.StashKey[list]()


def pytest_terminal_summary(terminalreporter, config) -> None:
    taken = config.stash.get(TAKEN, [])
    if taken:
        terminalreporter.write_line(f"browser screenshots ({len(taken)}) in {SCREENSHOTS}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        message = f"{CHROMIUM} is missing: install Debian's chromium (make chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it, so a missing browser there is a broken install step
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    """Every bundled model, one worker."""
    srv = Server(MODELS_DIR, tmp_path_factory.mktemp("gunicorn") / "server.log")
    try:  # stopped even when it fails to come up, so no server outlives the tests
        srv.wait_listening()
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[[str], Page]]:
    """A fresh context per page; the phone one has touch, as a phone has. Closed after the test."""
    contexts = []

    def open_page(viewport: str) -> Page:
        phone = viewport == "phone"
        context = browser.new_context(viewport=VIEWPORTS[viewport], is_mobile=phone, has_touch=phone,
                                      device_scale_factor=2 if phone else 1)
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot(request) -> Callable[[Page, str], Path]:
    """Save a full-page screenshot under ``var/screenshots/`` and list it in the test summary."""
    taken = request.config.stash.setdefault(TAKEN, [])

    def screenshot(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
        return path

    return screenshot
