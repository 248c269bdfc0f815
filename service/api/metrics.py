"""Prometheus metrics and ``GET /metrics``, with prometheus_client's multiprocess mode under gunicorn.

Each gunicorn worker is its own process, so counters go to files in ``PROMETHEUS_MULTIPROC_DIR`` (made by
gunicorn.conf.py before forking) and ``/metrics`` sums them, whichever worker answers. Without that variable (the
Flask development server, tests) the process's own registry is served.

Per request this costs a few memory-mapped writes (latency histogram, in-flight gauge, inference histograms) and
dictionary look-ups: the labelled children are cached here, since ``labels()`` validates and locks on every call.
The latency histogram's ``_count`` is the request counter (by route, method, model, version and status), so no
separate counter is written.
"""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from service.api.model_versions import served_versions
from service.inference import Model, ModelRegistry
from service.inference.model import INFERENCE_OBSERVERS

bp = Blueprint("metrics", __name__)

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # others count as "other"

LATENCY = Histogram(
    "classifier_http_request_duration_seconds",
    "Time from the request reaching the app to its answer; its _count counts the requests.",
    ["route", "method", "model", "version", "status"], buckets=LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge(
    "classifier_http_requests_in_flight", "Requests being handled now.", multiprocess_mode="livesum"
)
INFERENCE = Histogram(
    "classifier_inference_duration_seconds", "Time of one runtime call (one batch).", ["model", "version"],
    buckets=LATENCY_BUCKETS,
)
BATCH_SIZE = Histogram(
    "classifier_inference_batch_size", "Inputs per runtime call.", ["model", "version"], buckets=BATCH_BUCKETS
)
MODEL_LOAD = Gauge(
    "classifier_models_load_seconds", "Seconds a worker took to load its models (the slowest worker).",
    multiprocess_mode="max",
)
MODEL_STATE = Gauge(
    "classifier_model_version_state", "1 for each model version in the state named by the label.",
    ["model", "version", "state"], multiprocess_mode="max",
)
# Training jobs by state (queued, running, succeeded, failed): set by whatever runs the jobs.
TRAINING_JOBS = Gauge(
    "classifier_training_jobs", "Training jobs by state.", ["state"], multiprocess_mode="max"
)


_children: dict[tuple[object, ...], Any] = {}


def _child(metric: Histogram, *labels: str) -> Any:
    """``metric.labels(*labels)``, cached (label values here come from routes and loaded models: a bounded set)."""
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def _observe_inference(model: Model, batch: int, seconds: float) -> None:
    version = model.manifest.version
    _child(INFERENCE, model.name, version).observe(seconds)
    _child(BATCH_SIZE, model.name, version).observe(batch)


def record_models(registry: ModelRegistry) -> None:
    """The loaded models' versions and states, and how long loading took (once per worker, after loading)."""
    MODEL_LOAD.set(registry.load_seconds)
    for name in registry.names():
        for version, state in served_versions(registry, name):
            MODEL_STATE.labels(name, version, state).set(1)


def _before() -> None:
    g.metrics_start = time.perf_counter()
    IN_FLIGHT.inc()


def _after(response: Response) -> Response:
    start = g.pop("metrics_start", None)
    if start is None:
        return response
    IN_FLIGHT.dec()
    rule = request.url_rule
    route = rule.rule if rule is not None else "unmatched"
    model = g.get("model")
    name, version = (model.name, model.manifest.version) if model is not None else ("", "")
    method = request.method if request.method in METHODS else "other"
    _child(LATENCY, route, method, name, version, str(response.status_code)).observe(
        time.perf_counter() - start)
    return response


def init_app(app: Flask, registry: ModelRegistry) -> None:
    """Count every request and every runtime call of this app's models."""
    app.before_request(_before)
    app.after_request(_after)
    if _observe_inference not in INFERENCE_OBSERVERS:
        INFERENCE_OBSERVERS.append(_observe_inference)
    record_models(registry)
    app.register_blueprint(bp)


@bp.get("/metrics")
def metrics() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
