"""Training jobs on Celery workers (``CLASSIFIER_BROKER_URL=redis://HOST:PORT/DB``, workers from ``make worker``).

Same task code and same records as the local executor: the worker runs ``service.jobs.task.run_job`` and writes
the SQLite records under ``CLASSIFIER_STATE_DIR`` and the versions under ``CLASSIFIER_MODELS_DIR``, so workers and
web servers share those folders (one machine, or a shared filesystem). Each job gets a fresh pool process
(``worker_max_tasks_per_child=1``): TensorFlow's memory goes away with it, and a cancel can stop it.

``celery -A service.jobs.celery_app worker`` imports this module; building the app opens no connection.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from celery import Celery

from service.config import Settings
from service.jobs.store import RUNNING, JobStore

TASK_NAME = "classifier.train"


def make_app(broker_url: str) -> Celery:
    app = Celery("classifier", broker=broker_url)
    app.conf.update(
        task_serializer="json", accept_content=["json"], task_ignore_result=True,
        worker_prefetch_multiplier=1, worker_max_tasks_per_child=1, task_acks_late=False,
        broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,
    )
    app.task(name=TASK_NAME)(train_task)
    return app


def train_task(key: str) -> str:
    """Claim the job (it may have been cancelled while queued) and run it in this pool process."""
    from service.jobs.task import run_job

    settings = Settings.from_env()
    store = JobStore(settings.state_dir)
    if not store.claim(key):
        return "skipped"
    return run_job(key, settings)


class CeleryExecutor:
    name = "celery"

    def __init__(self, settings: Settings, store: JobStore) -> None:
        self.settings, self.store = settings, store
        self.app = make_app(settings.broker_url)

    def submit(self, key: str) -> None:
        self.app.send_task(TASK_NAME, args=[key], task_id=key)

    def dispatch(self) -> None:
        """Queued jobs already sit in the broker; nothing to start here."""

    def cancel(self, record: dict[str, Any]) -> None:
        if record["status"] == RUNNING and record["host"] == socket.gethostname() and record["pid"]:
            from service.jobs.local import terminate

            terminate(record["pid"])  # the pool process on this machine; the worker replaces it
        else:
            self.app.control.revoke(record["key"], terminate=True, signal="SIGTERM")

    def stop_all(self) -> list[str]:
        return []  # jobs belong to the workers, which outlive a web server restart


app = make_app(os.environ.get("CLASSIFIER_BROKER_URL") or "redis://127.0.0.1:6379/0")
