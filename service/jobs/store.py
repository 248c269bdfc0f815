"""Job records in SQLite (``<state_dir>/jobs.sqlite3``): every gunicorn worker, every job process and a restarted
server read and write the same records.

Why SQLite: the records must outlive a worker and be shared by processes on one machine, with atomic state changes
(claim a slot, cancel, start publishing) and nothing to run beside the service. Each call opens its own connection,
so the store is safe to use from threads and forked processes alike.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

QUEUED, RUNNING, SUCCESS, FAILED, CANCELLED = "queued", "running", "success", "failed", "cancelled"
FINISHED = (SUCCESS, FAILED, CANCELLED)
HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 60.0  # a running job whose process has not written for this long is gone
INTERRUPTED = "interrupted by a restart: the job's process stopped before the run ended"
JSON_COLUMNS = ("config", "history", "message", "model", "promotion", "progress")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    phase TEXT NOT NULL DEFAULT 'queued',
    backend TEXT NOT NULL,
    config TEXT NOT NULL,
    epochs INTEGER,
    current_epoch INTEGER NOT NULL DEFAULT 0,
    current_loss REAL,
    progress TEXT,
    history TEXT NOT NULL DEFAULT '[]',
    message TEXT,
    model TEXT,
    promotion TEXT,
    error TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    heartbeat REAL,
    pid INTEGER,
    host TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created);
"""


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobStore:
    """Create, read and move job records through queued -> running -> success | failed | cancelled."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / "jobs.sqlite3"
        self._ready = False

    @property
    def exists(self) -> bool:
        return self.path.is_file()

    @contextmanager
    def _connect(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            if not self._ready:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(SCHEMA)
                self._ready = True
            conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def _update(self, key: str, where: str = "1", **fields: Any) -> bool:
        values = {k: json.dumps(v) if k in JSON_COLUMNS and v is not None else v for k, v in fields.items()}
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self._connect() as conn:
            cursor = conn.execute(f"UPDATE jobs SET {assignments} WHERE key = ? AND ({where})",
                                  [*values.values(), key])
            return cursor.rowcount == 1

    # -- the web side ----------------------------------------------------------------------------------------

    def create(self, config: dict[str, Any], epochs: int, backend: str) -> str:
        key = uuid.uuid4().hex[:16]
        with self._connect() as conn:
            conn.execute("INSERT INTO jobs (key, status, backend, config, epochs, created) VALUES (?, ?, ?, ?, ?, ?)",
                         (key, QUEUED, backend, json.dumps(config), epochs, time.time()))
        return key

    def get(self, key: str) -> dict[str, Any] | None:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        record = self._record(row)
        if record["status"] == RUNNING and self._gone(record):
            self.fail_interrupted(key)
            return self.get(key)
        return record

    def list(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [self._record(row) for row in rows]

    def cancel(self, key: str) -> dict[str, Any] | None:
        """Mark a queued or running job cancelled in one step; return the record as it was, or None if unknown.

        A job that has started publishing can no longer be cancelled (its version is being renamed into place).
        """
        with self._connect(immediate=True) as conn:
            row = conn.execute("SELECT * FROM jobs WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            if row["status"] in (QUEUED, RUNNING) and row["phase"] != "publishing":
                conn.execute("UPDATE jobs SET status = ?, phase = ?, finished = ?, error = NULL WHERE key = ?",
                             (CANCELLED, CANCELLED, time.time(), key))
        return self._record(row)

    def counts(self) -> dict[str, int]:
        with self._connect() as conn:
            return {r[0]: r[1] for r in conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status")}

    def recover(self, host: str | None = None) -> list[str]:
        """Running records whose process is gone (dead pid on this machine, or no heartbeat) become failed."""
        host = host or socket.gethostname()
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM jobs WHERE status = ?", (RUNNING,)).fetchall()
        gone = [r["key"] for r in rows if self._gone(self._record(r), host)]
        for key in gone:
            self.fail_interrupted(key)
        return gone

    def fail_interrupted(self, key: str, reason: str = INTERRUPTED) -> bool:
        return self._update(key, f"status = '{RUNNING}'", status=FAILED, phase=FAILED, error=reason,
                            finished=time.time())

    # -- the job side ----------------------------------------------------------------------------------------

    def claim_next(self, concurrency: int) -> str | None:
        """Take the oldest queued job if fewer than ``concurrency`` run; mark it running for this process."""
        with self._connect(immediate=True) as conn:
            running = conn.execute("SELECT COUNT(*) FROM jobs WHERE status = ?", (RUNNING,)).fetchone()[0]
            if running >= concurrency:
                return None
            row = conn.execute("SELECT key FROM jobs WHERE status = ? ORDER BY created LIMIT 1", (QUEUED,)).fetchone()
            if row is None:
                return None
            self._mark_running(conn, row["key"])
            return row["key"]

    def claim(self, key: str) -> bool:
        """Mark one queued job running for this process (a Celery worker was handed it); False if cancelled."""
        with self._connect(immediate=True) as conn:
            row = conn.execute("SELECT status FROM jobs WHERE key = ?", (key,)).fetchone()
            if row is None or row["status"] != QUEUED:
                return False
            self._mark_running(conn, key)
            return True

    @staticmethod
    def _mark_running(conn: sqlite3.Connection, key: str) -> None:
        now = time.time()
        conn.execute("UPDATE jobs SET status = ?, phase = 'training', started = ?, heartbeat = ?, pid = ?, host = ? "
                     "WHERE key = ?", (RUNNING, now, now, os.getpid(), socket.gethostname(), key))

    def config(self, key: str) -> dict[str, Any]:
        with self._connect() as conn:
            return json.loads(conn.execute("SELECT config FROM jobs WHERE key = ?", (key,)).fetchone()[0])

    def beat(self, key: str, **fields: Any) -> bool:
        """Progress and liveness from the job's process; False once the job is no longer running (cancelled)."""
        return self._update(key, f"status = '{RUNNING}'", heartbeat=time.time(), **fields)

    def add_epoch(self, key: str, epoch: dict[str, Any]) -> None:
        record = self.get(key)
        if record is not None:
            history = [*record["history"], epoch]
            self.beat(key, history=history, current_epoch=epoch["epoch"], current_loss=epoch.get("loss"))

    def start_publishing(self, key: str) -> bool:
        """The point of no return: after this a cancel is refused, before it a cancel wins."""
        return self._update(key, f"status = '{RUNNING}' AND phase = 'training'", phase="publishing")

    def finish(self, key: str, status: str, **fields: Any) -> bool:
        return self._update(key, f"status = '{RUNNING}'", status=status, phase=status, finished=time.time(), **fields)

    # -- shaping ---------------------------------------------------------------------------------------------

    @staticmethod
    def _gone(record: dict[str, Any], host: str | None = None) -> bool:
        if record["host"] == (host or socket.gethostname()) and not pid_alive(record["pid"]):
            return True
        return time.time() - (record["_heartbeat"] or 0) > STALE_SECONDS

    @staticmethod
    def _record(row: sqlite3.Row) -> dict[str, Any]:
        record = dict(row)
        for key in JSON_COLUMNS:
            if record.get(key) is not None:
                record[key] = json.loads(record[key])
        record["_heartbeat"] = record.pop("heartbeat")
        return record


def public(record: dict[str, Any]) -> dict[str, Any]:
    """The job as ``GET /api/v1/train/<key>`` answers it (accuracies are fractions, times ISO 8601 UTC)."""
    body: dict[str, Any] = {
        "key": record["key"], "status": record["status"], "current_epoch": record["current_epoch"],
        "epochs": record["epochs"], "current_loss": record["current_loss"], "history": record["history"],
        "created": _iso(record["created"]), "started": _iso(record["started"]), "finished": _iso(record["finished"]),
    }
    if record.get("progress") and record["status"] == RUNNING:
        body["progress"] = record["progress"]  # inside the current epoch: step of steps, loss so far
    for key in ("message", "model", "promotion", "error"):
        if record.get(key) is not None:
            body[key] = record[key]
    body["config"] = record["config"]
    body["status_url"] = f"/api/v1/train/{record['key']}"
    return body
