"""The Flask app factory; imported lazily through ``service.create_app`` (Flask is only needed to serve)."""

from __future__ import annotations

import logging

from flask import Flask

from service.config import Settings, asset_dir
from service.inference import ModelRegistry
from service.logs import configure_logging

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, registry: ModelRegistry | None = None) -> Flask:
    """Build the Flask app. Models load here, so under gunicorn (no --preload) each worker loads them after the fork.

    ``registry`` lets tests serve fakes without model files.
    """
    from service.api import metrics, register_blueprints, request_ids
    from service.api.errors import register_error_handlers
    from service.api.limits import register_request_limits

    settings = settings or Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    app = Flask(__name__, template_folder=str(asset_dir("templates")), static_folder=str(asset_dir("static")))
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    app.json.sort_keys = False
    app.extensions["settings"] = settings
    if registry is None:
        registry = ModelRegistry.from_directory(settings.models_dir, settings.models, settings.inference_threads)
        log.info("models ready=%s loaded=%s in %.2fs", registry.ready, registry.names(), registry.load_seconds)
        registry.watch(settings.reload_seconds)
        from service.jobs import startup

        startup(settings)  # jobs a dead process left running become failed; queued ones get a runner
    app.extensions["registry"] = registry
    register_error_handlers(app)
    request_ids.init_app(app)
    if settings.metrics:
        metrics.init_app(app, registry)
    register_request_limits(app, settings.request_timeout)
    register_blueprints(app)
    return app
