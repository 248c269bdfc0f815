"""The pages at / and /train: static files from static/, loading nothing from elsewhere."""

from __future__ import annotations

import re

import pytest

from service.config import REPO_ROOT

STATIC = REPO_ROOT / "static"


@pytest.mark.parametrize(("path", "marker"), [("/", b"Draw a digit"), ("/train", b"Training at a glance")])
def test_pages_are_served(client, path, marker):
    response = client.get(path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})  # a browser
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert marker in response.data


def test_root_answers_kserve_v1_liveness_to_api_clients(client):
    response = client.get("/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.get_json() == {"status": "alive"}


@pytest.mark.parametrize("name", ["page.css", "classify.js", "train.js"])
def test_assets_are_served(client, name):
    response = client.get(f"/static/{name}")
    assert response.status_code == 200
    assert len(response.data) > 1000


def test_pages_load_nothing_from_elsewhere():
    """The service may run offline: no CDN, no outside fonts or scripts."""
    for path in STATIC.iterdir():
        text = path.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path.name
        assert "@import" not in text and "url(http" not in text, path.name


def test_unknown_static_file_is_a_json_404(client):
    response = client.get("/static/nope.js", headers={"Accept": "application/json"})
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"
