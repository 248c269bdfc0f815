"""TensorFlow Serving's REST API: model status, metadata, ``:predict`` and ``:classify``.

Row format (``instances``) answers ``{"predictions": [{"classes": i, "probabilities": [...]}, ...]}``, the shape the
Google AI Platform check prints as ``CLASSES PROBABILITIES``; columnar format (``inputs``) answers TF Serving's
``{"outputs": {"classes": [...], "probabilities": [[...], ...]}}``. An instance is an encoded image
(``{"b64": "..."}``, also under one named key such as ``{"image_bytes": {"b64": ...}}``) or a preprocessed pixel
array of the model's input shape; all instances of a request are of one kind and go through one runtime call.
Errors are ``{"error": "..."}`` (with ``code`` and ``status`` beside it, as everywhere in this service).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np
from flask import Blueprint, Response, jsonify, request

from service.api import registry
from service.api.batches import classify_images, classify_tensor
from service.api.model_versions import model_version, served_versions
from service.errors import BadRequest
from service.inference import Model, Prediction

bp = Blueprint("tfserving", __name__, url_prefix="/v1/models")


@bp.get("/<name>")
@bp.get("/<name>/versions/<version>")
def status(name: str, version: str | None = None) -> Response:
    model = model_version(registry(), name, version)
    versions = [(v, state) for v, state in served_versions(registry(), name) if version in (None, v)]
    return jsonify(
        model_version_status=[
            {"version": v, "state": state, "status": {"error_code": "OK", "error_message": ""}} for v, state in versions
        ],
        # KServe's v1 protocol reads these two from the same URL.
        name=model.name,
        ready=True,
    )


def _tensor_info(dtype: str, dims: list[int], name: str) -> dict[str, Any]:
    return {"dtype": dtype, "tensor_shape": {"dim": [{"size": str(d), "name": ""} for d in dims],
                                             "unknown_rank": False}, "name": name}


@bp.get("/<name>/metadata")
@bp.get("/<name>/versions/<version>/metadata")
def metadata(name: str, version: str | None = None) -> Response:
    model = model_version(registry(), name, version)
    signature = {
        "inputs": {
            "input": _tensor_info("DT_FLOAT", [-1, *model.manifest.input_shape], "input:0"),
            "image_bytes": _tensor_info("DT_STRING", [-1], "image_bytes:0"),
        },
        "outputs": {
            "classes": _tensor_info("DT_INT64", [-1], "classes:0"),
            "probabilities": _tensor_info("DT_FLOAT", [-1, len(model.labels)], "probabilities:0"),
        },
        "method_name": "tensorflow/serving/predict",
    }
    return jsonify(
        model_spec={"name": model.name, "signature_name": "", "version": model.manifest.version},
        metadata={"signature_def": {"signature_def": {"serving_default": signature}}},
    )


@bp.post("/<name>:predict")
@bp.post("/<name>/versions/<version>:predict")
def predict(name: str, version: str | None = None) -> Response:
    model = model_version(registry(), name, version)
    body = _json_body()
    if "instances" in body:
        predictions = _classify(model, _as_list(body["instances"], "instances"))
        return jsonify(predictions=[{"classes": p.index, "probabilities": _rounded(p)} for p in predictions])
    if "inputs" in body:
        inputs = body["inputs"]
        if isinstance(inputs, dict):
            if len(inputs) != 1:
                raise BadRequest("this model has one input: send {\"inputs\": [...]} or one named input")
            inputs = next(iter(inputs.values()))
        predictions = _classify(model, _as_list(inputs, "inputs"))
        return jsonify(outputs={"classes": [p.index for p in predictions],
                                "probabilities": [_rounded(p) for p in predictions]})
    raise BadRequest("send {\"instances\": [...]} (row format) or {\"inputs\": [...]} (columnar format)")


@bp.post("/<name>:classify")
@bp.post("/<name>/versions/<version>:classify")
def classify(name: str, version: str | None = None) -> Response:
    model = model_version(registry(), name, version)
    body = _json_body()
    key = "examples" if "examples" in body else "instances"
    if key not in body:
        raise BadRequest("send {\"examples\": [...]} (or \"instances\") with one encoded image or array each")
    predictions = _classify(model, _as_list(body[key], key))
    results = []
    for p in predictions:
        order = np.argsort(-p.probabilities, kind="stable")
        results.append([[model.labels[i], round(float(p.probabilities[i]), 6)] for i in order])
    return jsonify(results=results)


def _rounded(prediction: Prediction) -> list[float]:
    return [round(float(x), 6) for x in prediction.probabilities]


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object (Content-Type: application/json)")
    return body


def _as_list(value: object, key: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise BadRequest(f"{key!r} must be a non-empty list, one entry per image")
    return value


def _image_bytes(instance: object) -> bytes | None:
    """The bytes of ``{"b64": ...}`` or ``{"<name>": {"b64": ...}}``; None if the instance is not an image."""
    if isinstance(instance, dict) and len(instance) == 1 and not isinstance(instance.get("b64"), str):
        instance = next(iter(instance.values()))
    if not (isinstance(instance, dict) and isinstance(instance.get("b64"), str)):
        return None
    try:
        return base64.b64decode(instance["b64"], validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("a \"b64\" value is not valid base64") from None


def _classify(model: Model, instances: list[Any]) -> list[Prediction]:
    images = [_image_bytes(instance) for instance in instances]
    if all(image is not None for image in images):
        return classify_images(model, images)  # type: ignore[arg-type]
    if any(image is not None for image in images):
        raise BadRequest("mix of images and arrays in one request; send one kind")
    rows = [next(iter(i.values())) if isinstance(i, dict) and len(i) == 1 else i for i in instances]
    try:
        array = np.asarray(rows, dtype=np.float32)
    except (ValueError, TypeError, OverflowError):
        raise BadRequest(
            "each instance must be {\"b64\": \"<base64 JPEG/PNG>\"} or a numeric array of the model's input shape"
        ) from None
    return classify_tensor(model, array)
