"""Training over HTTP: ``/api/v1/train`` (queue a run from a JSON config, watch it, list, cancel) and the
``POST /train`` of the original challenge service. Runs never happen in a web worker: this only writes records and
hands keys to an executor."""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from service.api import settings
from service.api.auth import check_privileged
from service.errors import (
    BadRequest,
    Conflict,
    InvalidConfig,
    JobNotFound,
    PayloadTooLarge,
    ServiceError,
    UnsupportedMediaType,
)
from service.jobs import JobStore, executor_for, public
from service.jobs.store import CANCELLED, FINISHED, SUCCESS

bp = Blueprint("train", __name__)
MAX_CONFIG_BYTES = 64 * 1024
SERVICE_FIELDS = ("filename", "version")  # where and as what a run publishes is the service's decision
BRIEF_FIELDS = {"epochs": int, "batch_size": int, "network": str, "limit": int}
BRIEF_DEFAULTS = {"epochs": 1, "batch_size": 128, "network": "lenet5"}
WAIT_POLL_SECONDS = 0.5


def jobs() -> tuple[JobStore, Any]:
    """The store and executor, built on first use (so serving alone never opens the database or a broker)."""
    found = current_app.extensions.get("jobs")
    if found is None:
        store = JobStore(settings().state_dir)
        found = current_app.extensions["jobs"] = (store, executor_for(settings(), store))
    return found


def json_body(optional: bool = False) -> Any:
    """The request's JSON: 413 past MAX_CONFIG_BYTES, 415 when not JSON, 400 when it does not parse."""
    if (request.content_length or 0) > MAX_CONFIG_BYTES:
        raise PayloadTooLarge(f"a training config is at most {MAX_CONFIG_BYTES:,} bytes")
    data = request.get_data(cache=False)
    if len(data) > MAX_CONFIG_BYTES:
        raise PayloadTooLarge(f"a training config is at most {MAX_CONFIG_BYTES:,} bytes")
    if optional and not data.strip():
        return {}
    if not request.is_json:
        raise UnsupportedMediaType(f"send the training config as JSON (Content-Type: application/json), "
                                   f"not {request.mimetype or 'no Content-Type'}")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None


def submit(raw: Any) -> dict[str, Any]:
    """Validate (422 naming every bad field), record and hand over a job; the record as the API shows it."""
    from training.config import validate_config  # no TensorFlow: the config module is plain Python

    if isinstance(raw, dict):
        refused = [f"{key}: set by the service (runs publish the model's next version)" for key in SERVICE_FIELDS
                   if key in raw]
        if refused:
            raise InvalidConfig("invalid training config: " + "; ".join(refused))
    config = validate_config(raw)
    store, executor = jobs()
    key = store.create(raw, config.epochs, executor.name)
    executor.submit(key)
    return public(store.get(key))


def accepted(record: dict[str, Any]) -> Response:
    response = jsonify(key=record["key"], status=record["status"],
                       message=f"training job {record['key']} queued; follow it at {record['status_url']}",
                       status_url=record["status_url"])
    response.status_code = 202
    response.headers["Location"] = record["status_url"]
    return response


@bp.post("/api/v1/train")
def start() -> Response:
    check_privileged()
    return accepted(submit(json_body()))


@bp.get("/api/v1/train")
def list_jobs() -> Response:
    store, _ = jobs()
    return jsonify(jobs=[public(record) for record in store.list()])


@bp.get("/api/v1/train/<key>")
def status(key: str) -> Response:
    store, _ = jobs()
    record = store.get(key)
    if record is None:
        raise JobNotFound(f"no training job with key {key!r}")
    return jsonify(public(record))


@bp.delete("/api/v1/train/<key>")
def cancel(key: str) -> Response:
    check_privileged()
    store, executor = jobs()
    before = store.cancel(key)
    if before is None:
        raise JobNotFound(f"no training job with key {key!r}")
    if before["status"] in FINISHED:
        raise Conflict(f"job {key} has already ended ({before['status']}); nothing to cancel")
    if before["phase"] == "publishing":
        raise Conflict(f"job {key} is publishing its version; it can no longer be cancelled")
    executor.cancel(before)
    return jsonify(public(store.get(key)))


@bp.post("/train")
def train_brief() -> Response:
    """Retrain the digit model; answer ``{"accuracy": x}`` when done, or 202 with ``Prefer: respond-async``."""
    check_privileged()
    body = json_body(optional=True)
    if not isinstance(body, dict):
        raise InvalidConfig("the body must be a JSON object such as {\"epochs\": 1, \"batch_size\": 128}")
    unknown = [f"{key}: unknown field (accepted: {', '.join(BRIEF_FIELDS)})" for key in body if key not in BRIEF_FIELDS]
    if unknown:
        raise InvalidConfig("invalid training request: " + "; ".join(unknown))
    options = dict(BRIEF_DEFAULTS, **body)
    config = {"dataset": "MnistDataset", "dataset_args": {"image_size": [28, 28, 1]}, "model": "DigitModel",
              "network": options["network"], "network_args": {},
              "train_args": {"batch_size": options["batch_size"], "epochs": options["epochs"]},
              "save_weights": True}
    if "limit" in options:
        config["dataset_args"]["limit"] = options["limit"]
    record = submit(config)
    if "respond-async" in request.headers.get("Prefer", "").lower():
        return accepted(record)
    store, _ = jobs()
    while record["status"] not in FINISHED:
        time.sleep(WAIT_POLL_SECONDS)
        record = public(store.get(record["key"]))
    if record["status"] == SUCCESS:
        return jsonify(accuracy=record["message"]["test"]["accuracy"], key=record["key"], model=record.get("model"),
                       promotion=record.get("promotion"))
    if record["status"] == CANCELLED:
        raise Conflict(f"training job {record['key']} was cancelled")
    raise ServiceError(f"training job {record['key']} failed: {record.get('error')}", status=500,
                       code="training_failed")
