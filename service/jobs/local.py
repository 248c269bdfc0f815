"""The embedded executor: each job runs in a fresh OS process started from the web worker that queued it, at most
``train_concurrency`` at a time; the rest wait in the SQLite queue.

How the queue drains without a daemon: a runner process claims the oldest queued job (atomically, only if a slot
is free), runs it, and on its way out starts the next runner. Every submit, cancel and server start also starts
one, so a job is never left waiting. Runners are detached (double fork, own session): no zombie in the web
worker, and ``pid`` checks stay meaningful.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from service.config import REPO_ROOT, Settings
from service.jobs.store import QUEUED, RUNNING, JobStore, pid_alive

log = logging.getLogger(__name__)
KILL_AFTER_SECONDS = 10.0


def spawn_runner(settings: Settings) -> None:
    """Start ``python -m service.jobs run-next`` detached, with this process's environment (CLASSIFIER_*)."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, CLASSIFIER_STATE_DIR=str(settings.state_dir), CLASSIFIER_MODELS_DIR=str(settings.models_dir),
               CLASSIFIER_TRAIN_CONCURRENCY=str(settings.train_concurrency),
               CLASSIFIER_KEEP_VERSIONS=str(settings.keep_versions))
    with open(settings.state_dir / "jobs.log", "ab") as logfile:
        child = subprocess.Popen([sys.executable, "-m", "service.jobs", "run-next", "--detach"], cwd=REPO_ROOT,
                                 env=env, stdin=subprocess.DEVNULL, stdout=logfile, stderr=logfile,
                                 start_new_session=True)
    child.wait()  # the intermediate exits at once; the runner lives on, adopted by init


def terminate(pid: int, kill_after: float = KILL_AFTER_SECONDS) -> None:
    """SIGTERM now (the job removes its staging folder), SIGKILL later if it is still there."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return

    def escalate() -> None:
        deadline = time.monotonic() + kill_after
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.2)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    threading.Thread(target=escalate, daemon=True, name=f"kill-{pid}").start()


class LocalExecutor:
    name = "local"

    def __init__(self, settings: Settings, store: JobStore) -> None:
        self.settings, self.store = settings, store

    def submit(self, key: str) -> None:
        self.dispatch()

    def dispatch(self) -> None:
        counts = self.store.counts()
        if counts.get(QUEUED, 0) and counts.get(RUNNING, 0) < self.settings.train_concurrency:
            spawn_runner(self.settings)

    def cancel(self, record: dict[str, Any]) -> None:
        if record["status"] == RUNNING and record["host"] == socket.gethostname() and record["pid"]:
            terminate(record["pid"])
        self.dispatch()

    def stop_all(self) -> list[str]:
        """Server shutdown: stop the jobs running here; their records say they were interrupted."""
        stopped = []
        for record in self.store.list(limit=1000):
            if record["status"] == RUNNING and record["host"] == socket.gethostname():
                self.store.fail_interrupted(record["key"])
                if record["pid"]:
                    terminate(record["pid"], kill_after=0)
                stopped.append(record["key"])
        return stopped


def run_next(settings: Settings) -> int:
    """A runner: claim one queued job, run it in this process, then hand over to a fresh runner."""
    from service.jobs.task import run_job

    store = JobStore(settings.state_dir)
    key = store.claim_next(settings.train_concurrency)
    if key is None:
        return 0
    log.info("runner %d: job %s", os.getpid(), key)
    try:
        run_job(key, settings)
    finally:
        try:
            LocalExecutor(settings, store).dispatch()
        except Exception:
            log.exception("could not start the next runner")
    return 0
