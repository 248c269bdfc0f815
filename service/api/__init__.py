"""Thin HTTP blueprints: parse the request, call the inference layer, shape the response."""

from __future__ import annotations

from flask import Flask, current_app

from service.config import Settings
from service.inference import ModelRegistry


def settings() -> Settings:
    return current_app.extensions["settings"]


def registry() -> ModelRegistry:
    return current_app.extensions["registry"]


def register_blueprints(app: Flask) -> None:
    from service.api import docs, health, kserve_v2, mnist, models, predict, tfserving, train

    for module in (health, mnist, models, predict, train):
        app.register_blueprint(module.bp)
    for module in (kserve_v2, tfserving):
        app.register_blueprint(module.bp)
    docs.register(app)

    from service.api import page

    app.register_blueprint(page.bp)
