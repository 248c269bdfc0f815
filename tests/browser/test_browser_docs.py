"""The API docs page in a real browser: Swagger UI renders every route from the service's own files, offline."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import expect


def test_docs_page_renders_the_routes_without_leaving_the_server(open_page, server, screenshot):
    page = open_page("desktop")
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.goto(server.url + "/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    for path in ("/mnist/classify", "/predict", "/v2/models/{name}/infer", "/v1/models/{name}:predict"):
        expect(page.locator(f'.opblock-summary-path[data-path="{path}"]').first).to_be_visible()
    assert page.locator(".opblock").count() >= 20
    assert hosts == {urlsplit(server.url).netloc}  # every asset from the service: it may run offline
    screenshot(page, "docs")
