"""The body of one training job, run in its own process (a local runner or a Celery pool process).

TensorFlow is imported here, in the job's process, never in a serving worker. The record is the only channel to
the web side: progress and a heartbeat go in, a cancel comes out (the record stops being ``running``), and the
process is also sent SIGTERM, which unwinds through ``finally`` so the staging folder is removed.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

from service.config import Settings
from service.errors import ServiceError
from service.jobs.store import CANCELLED, FAILED, HEARTBEAT_SECONDS, SUCCESS, JobStore

log = logging.getLogger(__name__)


def _stop_on_sigterm() -> None:
    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def _heartbeat(store: JobStore, key: str, stop: threading.Event) -> None:
    """Liveness while no epoch or batch reports (data loading, export): a job that stops beating is gone."""
    while not stop.wait(HEARTBEAT_SECONDS):
        if not store.beat(key):
            return


def fractions(summary: dict[str, Any]) -> dict[str, Any]:
    """The original service's result shape: ``{"status", "train": {accuracy, loss}, "test": {...}}``."""
    return {"status": summary["status"],
            "train": {"accuracy": round(summary["train"]["accuracy"], 6), "loss": round(summary["train"]["loss"], 6)},
            "test": {"accuracy": round(summary["test"]["accuracy"], 6), "loss": round(summary["test"]["loss"], 6)}}


def run_job(key: str, settings: Settings) -> str:
    """Run a claimed job to its end and write the outcome into its record; return the final status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _stop_on_sigterm()
    store = JobStore(settings.state_dir)
    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(store, key, stop), daemon=True, name="job-heartbeat").start()
    try:
        from training.config import validate_config

        config = validate_config(store.config(key))
        from training.callbacks import BatchProgress
        from training.release import train_and_release

        def report(update: dict[str, Any]) -> bool:
            return store.beat(key, progress=update, current_epoch=update["epoch"],
                              **({"current_loss": update["loss"]} if update["loss"] is not None else {}))

        model_dir = settings.models_dir / config.name
        result = train_and_release(
            config, model_dir, keep_versions=settings.keep_versions, progress=False,
            on_epoch=lambda epoch: store.add_epoch(key, epoch), callbacks=[BatchProgress(report)],
            before_publish=lambda: store.start_publishing(key))
        if result.get("cancelled"):
            return CANCELLED
        store.finish(key, SUCCESS, message=fractions(result), model=result.get("model"),
                     promotion=result.get("promotion"))
        return SUCCESS
    except SystemExit:
        log.info("job %s stopped by a signal", key)
        store.fail_interrupted(key, "the job's process was stopped (server shutdown or a signal)")
        raise
    except ServiceError as exc:
        store.finish(key, FAILED, error=exc.message)
        return FAILED
    except Exception as exc:
        log.exception("job %s failed", key)
        store.finish(key, FAILED, error=f"{type(exc).__name__}: {exc}")
        return FAILED
    finally:
        stop.set()
