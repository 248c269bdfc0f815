"""gunicorn settings, from the environment (HOST, PORT and CLASSIFIER_* server knobs).

No ``preload_app``: each worker imports ``app:app`` after the fork and loads its own models, so no model state is
shared across a fork and a worker is only ready once its models are loaded.
"""

import os

wsgi_app = "app:app"
bind = [f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"]
workers = int(os.environ.get("CLASSIFIER_WORKERS", os.environ.get("WEB_CONCURRENCY", "2")))
worker_class = os.environ.get("CLASSIFIER_WORKER_CLASS", "gthread")
threads = int(os.environ.get("CLASSIFIER_THREADS", "4"))
keepalive = 5
timeout = 60
graceful_timeout = 20
accesslog = "-" if os.environ.get("CLASSIFIER_ACCESS_LOG", "1").lower() not in ("0", "false", "no", "off") else None
errorlog = "-"
loglevel = os.environ.get("CLASSIFIER_LOG_LEVEL", "info").lower()
