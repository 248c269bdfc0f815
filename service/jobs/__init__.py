"""Training jobs, outside the web workers: records in SQLite, runs in their own processes (local runners, or Celery
workers when ``CLASSIFIER_BROKER_URL`` is set). No Flask here."""

from __future__ import annotations

from service.config import Settings
from service.jobs.store import JobStore, public

__all__ = ["JobStore", "executor_for", "public", "startup"]


def executor_for(settings: Settings, store: JobStore):
    """The local process executor, or Celery's when a broker is configured (imported only then)."""
    if settings.broker_url:
        from service.jobs.celery_app import CeleryExecutor

        return CeleryExecutor(settings, store)
    from service.jobs.local import LocalExecutor

    return LocalExecutor(settings, store)


def startup(settings: Settings) -> None:
    """At server start: jobs left running by a dead process become failed; queued ones get a runner."""
    store = JobStore(settings.state_dir)
    if not store.exists:
        return
    store.recover()
    executor_for(settings, store).dispatch()


def shutdown(settings: Settings) -> list[str]:
    """At server stop: stop this machine's local jobs (they are reported interrupted, never left running)."""
    store = JobStore(settings.state_dir)
    if not store.exists:
        return []
    return executor_for(settings, store).stop_all()
