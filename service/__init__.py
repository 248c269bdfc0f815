"""The image classification service: ``create_app()`` is the one place that wires everything together."""

from __future__ import annotations

import logging
import sys

from flask import Flask

from service.config import REPO_ROOT, Settings
from service.inference import ModelRegistry

log = logging.getLogger(__name__)


def configure_logging(level: str) -> None:
    """Log to stdout (containers collect it); leave handlers alone if a host such as gunicorn set them."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level.upper())


def create_app(settings: Settings | None = None, registry: ModelRegistry | None = None) -> Flask:
    """Build the Flask app. Models load here, so under gunicorn (no --preload) each worker loads them after the fork.

    ``registry`` lets tests serve fakes without model files.
    """
    from service.api import register_blueprints
    from service.api.errors import register_error_handlers
    from service.api.limits import register_request_limits

    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    app = Flask(__name__, template_folder=str(REPO_ROOT / "templates"))
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    app.json.sort_keys = False
    app.extensions["settings"] = settings
    if registry is None:
        registry = ModelRegistry.from_directory(settings.models_dir, settings.models, settings.inference_threads)
        log.info("models ready=%s loaded=%s in %.2fs", registry.ready, registry.names(), registry.load_seconds)
    app.extensions["registry"] = registry
    register_error_handlers(app)
    register_request_limits(app, settings.request_timeout)
    register_blueprints(app)
    return app
