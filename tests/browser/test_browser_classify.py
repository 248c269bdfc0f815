"""The page at / in a real browser: draw a digit, upload photos, read the answers and what the network was shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from service.config import REPO_ROOT
from tests.conftest import SHARED_DATA

VIEWPORTS = ["desktop", "phone"]
DIGIT_PHOTO = REPO_ROOT / "test-data" / "photos" / "tuned-017.jpg"  # a 7 (test-data/labels.csv)
REAL_DIGIT = SHARED_DATA / "real-digits" / "calex257__digit-reader" / "3.jpg"
FLOWER = SHARED_DATA / "flowers" / "sunflowers" / "1008566138_6927679c8a.jpg"
SCENE = REPO_ROOT / "test-data" / "special" / "nodigit-scene.jpg"
# A 7 as fractions of the drawing pad: the bar, then the stem.
SEVEN = [(0.22, 0.2), (0.5, 0.2), (0.78, 0.2), (0.66, 0.45), (0.55, 0.65), (0.45, 0.86)]


@pytest.fixture(params=VIEWPORTS)
def page(request, open_page, server) -> Page:
    page = open_page(request.param)
    page.viewport = request.param  # type: ignore[attr-defined]
    page.goto(server.url + "/")
    expect(page.locator("#model option[value=flowers]")).to_have_count(1)  # models listed from the API
    return page


def draw(page: Page, points: list[tuple[float, float]]) -> None:
    """One stroke through ``points``: mouse pointer events on a desktop, touch events (a finger) on a phone."""
    box = page.locator("#pad").bounding_box()
    assert box is not None
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    if page.viewport == "desktop":
        page.mouse.move(*xy[0])
        page.mouse.down()
        for x, y in xy[1:]:
            page.mouse.move(x, y, steps=8)
        page.mouse.up()
        return
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": xy[0][0], "y": xy[0][1]}]})
    for (x0, y0), (x1, y1) in zip(xy, xy[1:]):
        for step in range(1, 9):
            x, y = x0 + (x1 - x0) * step / 8, y0 + (y1 - y0) * step / 8
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def network_input_size(page: Page) -> list[int]:
    image = page.locator("#input")
    expect(image).to_be_visible()
    page.wait_for_function("document.getElementById('input').naturalWidth > 0")
    return image.evaluate("img => [img.naturalWidth, img.naturalHeight]")


def upload(page: Page, path: Path) -> None:
    page.set_input_files("#file", str(path))


def test_draw_a_seven(page, screenshot):
    draw(page, SEVEN)
    expect(page.locator("#label")).to_have_text("7")
    expect(page.locator("#bars li")).to_have_count(10)
    expect(page.locator("#bars li.top")).to_have_attribute("data-label", "7")
    assert network_input_size(page) == [28, 28]
    screenshot(page, f"1-draw-seven-{page.viewport}")
    page.click("#clear")
    expect(page.locator("#answer")).to_be_hidden()


def test_upload_a_digit_photo(page, screenshot):
    upload(page, DIGIT_PHOTO)
    expect(page.locator("#label")).to_have_text("7")
    expect(page.locator("#sent")).to_be_visible()
    assert network_input_size(page) == [28, 28]
    screenshot(page, f"2-digit-photo-{page.viewport}")


def test_upload_a_real_digit_photo(page, screenshot):
    if not REAL_DIGIT.is_file():
        pytest.skip(f"{REAL_DIGIT} is absent (real phone photos live in ../shared/data/real-digits)")
    upload(page, REAL_DIGIT)
    expect(page.locator("#label")).to_have_text("3")
    screenshot(page, f"3-real-digit-{page.viewport}")


def test_upload_a_flower_photo(page, screenshot):
    if not FLOWER.is_file():
        pytest.skip(f"{FLOWER} is absent (flower photos live in ../shared/data/flowers)")
    page.select_option("#model", "flowers")
    upload(page, FLOWER)
    expect(page.locator("#label")).to_have_text("sunflowers")
    expect(page.locator("#bars li")).to_have_count(5)
    assert network_input_size(page) == [180, 180]
    expect(page.locator("#status")).to_contain_text("flowers v1")
    screenshot(page, f"4-flower-{page.viewport}")


def test_a_broken_file_gets_a_readable_error(page, screenshot, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    upload(page, broken)
    expect(page.locator("#error")).to_contain_text("HTTP 404")
    expect(page.locator("#refusal")).to_be_hidden()
    screenshot(page, f"5-broken-file-{page.viewport}")


def test_a_picture_without_a_digit_is_refused(page, screenshot):
    """Needs the service's "not a digit" answer (404, code not_a_digit) on /mnist/classify."""
    upload(page, SCENE)
    expect(page.locator("#refusal")).to_contain_text("does not look like a handwritten digit")
    expect(page.locator("#answer")).to_be_hidden()
    screenshot(page, f"6-not-a-digit-{page.viewport}")
