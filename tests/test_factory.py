"""The app factory and the settings it reads."""

import io
from dataclasses import replace
from pathlib import Path

import pytest

from service import create_app
from service.config import Settings


def test_factory_uses_given_settings_and_registry(settings, registry):
    app = create_app(settings, registry)
    assert app.extensions["settings"] is settings
    assert app.extensions["registry"] is registry
    assert app.config["MAX_CONTENT_LENGTH"] == settings.max_upload_bytes


def test_factory_loads_models_from_directory(tmp_path):
    app = create_app(Settings(models_dir=tmp_path))
    assert app.extensions["registry"].names() == []
    assert app.test_client().get("/readyz").status_code == 503


def test_settings_from_environment():
    env = {
        "CLASSIFIER_MODELS_DIR": "/srv/models",
        "CLASSIFIER_MODELS": "mnist, flowers",
        "CLASSIFIER_MAX_UPLOAD_BYTES": "2048",
        "CLASSIFIER_DEFAULT_MODEL": "flowers",
    }
    s = Settings.from_env(env)
    assert s.models_dir == Path("/srv/models")
    assert s.models == ("mnist", "flowers")
    assert s.max_upload_bytes == 2048
    assert s.default_model == "flowers"
    assert Settings.from_env({}, max_pixels=5).max_pixels == 5


def test_settings_reject_bad_numbers():
    with pytest.raises(ValueError, match="CLASSIFIER_MAX_PIXELS"):
        Settings.from_env({"CLASSIFIER_MAX_PIXELS": "lots"})


def test_settings_are_frozen(settings):
    with pytest.raises(AttributeError):
        settings.max_pixels = 1  # type: ignore[misc]


def test_every_setting_is_documented():
    docs = Settings.documentation()
    assert docs and all(text for text in docs.values())


def test_metrics_can_be_turned_off(settings, registry, digit_png):
    app = create_app(replace(settings, metrics=False), registry)
    client = app.test_client()
    answer = client.post("/mnist/classify", data={"image": (io.BytesIO(digit_png), "d.png")})
    assert answer.status_code == 200
    assert client.get("/metrics").status_code == 404
    assert Settings.from_env({"CLASSIFIER_METRICS": "0"}).metrics is False
