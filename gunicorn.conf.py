"""gunicorn settings, from the environment (HOST, PORT and CLASSIFIER_* server knobs).

No ``preload_app``: each worker imports ``app:app`` after the fork and loads its own models, so no model state is
shared across a fork and a worker is only ready once its models are loaded. The master does import the
libraries (OpenCV, NumPy, LiteRT, Flask: no models, no threads) so that a forked worker inherits them and
only loads its models; ``post_worker_init`` logs how long that took (fork to ready).
"""

import os
import time

wsgi_app = "app:app"
bind = [f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"]
workers = int(os.environ.get("CLASSIFIER_WORKERS", os.environ.get("WEB_CONCURRENCY", "2")))
worker_class = os.environ.get("CLASSIFIER_WORKER_CLASS", "service.http_worker.BufferingThreadWorker")
threads = int(os.environ.get("CLASSIFIER_THREADS", "4"))
keepalive = 5
timeout = 60
graceful_timeout = 20
# Access log to stdout by default (operators expect it). One line per request costs about 0.1-0.25 ms of CPU here,
# a quarter of a small digit request (bench/README.md): CLASSIFIER_ACCESS_LOG=0 turns it off for peak throughput.
accesslog = None if os.environ.get("CLASSIFIER_ACCESS_LOG", "1").lower() in ("0", "false", "no", "off") else "-"
errorlog = "-"
loglevel = os.environ.get("CLASSIFIER_LOG_LEVEL", "info").lower()
# gunicorn's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl), so two instances of a user
# share it and stopping one deletes the other's. Off unless CLASSIFIER_CONTROL_SOCKET names a path for this one.
control_socket = os.environ.get("CLASSIFIER_CONTROL_SOCKET", "")
control_socket_disable = not control_socket


def on_starting(server):
    """Import the serving libraries once in the master; workers fork with them already imported."""
    if os.environ.get("CLASSIFIER_PREIMPORT", "1").lower() in ("0", "false", "no", "off"):
        return
    start = time.perf_counter()
    import service.api  # noqa: F401  (Flask and the blueprints' imports)
    import service.inference  # noqa: F401  (NumPy, OpenCV through preprocessing)

    try:
        import ai_edge_litert.interpreter  # noqa: F401  (the runtime imports it lazily, per model)
    except ImportError:
        pass
    server.log.info("master imported the serving libraries in %.3f s", time.perf_counter() - start)


def post_fork(server, worker):
    worker.forked_at = time.monotonic()


def post_worker_init(worker):
    """Called once the worker has built the app (models loaded): the worker is ready."""
    worker.log.info("worker %d ready %.3f s after fork", worker.pid, time.monotonic() - worker.forked_at)
