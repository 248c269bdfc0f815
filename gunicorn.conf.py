"""gunicorn settings, all from the one ``Settings`` object (``service/config.py``); nothing is parsed here.

No ``preload_app``: each worker imports ``app:app`` after the fork and loads its own models, so no model state is
shared across a fork and a worker is only ready once its models are loaded. The master does import the
libraries (OpenCV, NumPy, LiteRT, Flask: no models, no threads) so that a forked worker inherits them and
only loads its models; ``post_worker_init`` logs how long that took (fork to ready).

Prometheus: workers are separate processes, so their metrics go to files in one folder (prometheus_client's
multiprocess mode); the master makes that folder before forking, ``child_exit`` marks a dead worker's gauges and
the folder is removed when the server stops.
"""

import glob
import os
import shutil
import tempfile
import time

from service.config import Settings
from service.logs import ACCESS_FORMAT

_settings = Settings.from_env()

wsgi_app = "app:app"
bind = [f"{_settings.host}:{_settings.port}"]
workers = _settings.workers
worker_class = _settings.worker_class
threads = _settings.threads
keepalive = _settings.keepalive
timeout = _settings.timeout
graceful_timeout = _settings.graceful_timeout
# Access log to stdout by default (operators expect it). One line per request costs about 0.1-0.25 ms of CPU here,
# a quarter of a small digit request (bench/README.md): CLASSIFIER_ACCESS_LOG=0 turns it off for peak throughput.
accesslog = "-" if _settings.access_log else None
errorlog = "-"
loglevel = _settings.log_level.lower()
# One format (CLASSIFIER_LOG_FORMAT) for gunicorn's lines, the access lines (with duration and request id) and the app's.
logger_class = "service.logs.GunicornLogger"
access_log_format = ACCESS_FORMAT

_own_metrics_dir: str | None = None
# gunicorn's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl), so two instances of a user
# share it and stopping one deletes the other's. Off unless CLASSIFIER_CONTROL_SOCKET names a path for this one.
control_socket = _settings.control_socket
control_socket_disable = not _settings.control_socket


def on_starting(server):
    """Make the metrics folder, then import the serving libraries once; workers fork with both."""
    global _own_metrics_dir
    if _settings.metrics_dir:
        os.makedirs(_settings.metrics_dir, exist_ok=True)
        for stale in glob.glob(os.path.join(_settings.metrics_dir, "*.db")):  # a previous server's counts
            os.remove(stale)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = _settings.metrics_dir
    else:
        _own_metrics_dir = tempfile.mkdtemp(prefix="classifier-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = _own_metrics_dir
    if not _settings.preimport:
        return
    start = time.perf_counter()
    import service.api  # noqa: F401  (Flask and the blueprints' imports)
    import service.api.docs  # noqa: F401  (Swagger UI's blueprint)
    import service.api.kserve_v2  # noqa: F401
    import service.api.metrics  # noqa: F401  (prometheus_client, after PROMETHEUS_MULTIPROC_DIR is set above)
    import service.api.tfserving  # noqa: F401
    import service.factory  # noqa: F401
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


def child_exit(server, worker):
    """A worker's live gauges (in-flight requests) stop counting once it is gone."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """The server stops: local training jobs stop with it and are recorded as interrupted, never left running;
    the metrics folder this server made goes."""
    from service.config import Settings
    from service.jobs import shutdown

    stopped = shutdown(Settings.from_env())
    if stopped:
        server.log.info("stopped training jobs %s", ", ".join(stopped))
    if _own_metrics_dir:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)
