"""KServe v2 / Open Inference Protocol (REST), as spoken by ``tritonclient[http]`` and ``kserve``'s clients.

Inputs (one per request): an FP32 (or other numeric) tensor of the model's input shape with the batch first,
already preprocessed; or a BYTES tensor of encoded JPEG/PNG images, which the service decodes and preprocesses as on
``/predict``. Output ``probabilities`` (FP32, [N, classes]); with the classification extension
(``parameters.classification: k``) it becomes Triton's BYTES ``"score:index:label"`` top-k strings.
The binary tensor extension works both ways: ``Inference-Header-Content-Length`` plus ``binary_data_size`` on
inputs, ``binary_data`` / ``binary_data_output`` for outputs. Errors are ``{"error": "..."}`` with the right status.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

import numpy as np
from flask import Blueprint, Response, jsonify, request

from service.api import registry
from service.api.batches import check_batch_size, classify_images, classify_tensor
from service.api.model_versions import model_version, served_versions
from service.config import DIST_NAME
from service.errors import BadRequest
from service.inference import Model, Prediction

bp = Blueprint("kserve_v2", __name__, url_prefix="/v2")

HEADER_LENGTH = "Inference-Header-Content-Length"
OUTPUT = "probabilities"
NUMERIC = {"FP16": np.float16, "FP32": np.float32, "FP64": np.float64, "UINT8": np.uint8, "UINT16": np.uint16,
           "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64}
EXTENSIONS = ["binary_tensor_data", "classification"]


def _server_version() -> str:
    try:
        return package_version(DIST_NAME)
    except PackageNotFoundError:
        return "unknown"


@bp.get("")
def server_metadata() -> Response:
    return jsonify(name=DIST_NAME, version=_server_version(), extensions=EXTENSIONS)


@bp.get("/health/live")
def live() -> Response:
    return jsonify(live=True)


@bp.get("/health/ready")
def ready() -> Response:
    is_ready = registry().ready
    response = jsonify(ready=is_ready)
    response.status_code = 200 if is_ready else 503
    return response


@bp.get("/models/<name>")
@bp.get("/models/<name>/versions/<version>")
def model_metadata(name: str, version: str | None = None) -> Response:
    model = model_version(registry(), name, version)
    shape = list(model.manifest.input_shape)
    return jsonify(
        name=model.name,
        versions=[v for v, _ in served_versions(registry(), name)],
        platform=model.runtime_name,
        inputs=[
            {"name": "input", "datatype": "FP32", "shape": [-1, *shape]},
            {"name": "image", "datatype": "BYTES", "shape": [-1]},
        ],
        outputs=[{"name": OUTPUT, "datatype": "FP32", "shape": [-1, len(model.labels)]}],
    )


@bp.get("/models/<name>/ready")
@bp.get("/models/<name>/versions/<version>/ready")
def model_ready(name: str, version: str | None = None) -> Response:
    model = model_version(registry(), name, version)
    return jsonify(name=model.name, ready=True)


@bp.post("/models/<name>/infer")
@bp.post("/models/<name>/versions/<version>/infer")
def infer(name: str, version: str | None = None) -> Response:
    model = model_version(registry(), name, version)
    body, binary = _split_body()
    tensor = _single_input(body)
    predictions = _run(model, tensor, binary)
    return _encode(model, body, predictions)


def _split_body() -> tuple[dict[str, Any], bytes]:
    """(the JSON inference header, the binary tensor data after it)."""
    data = request.get_data(cache=False)
    length_text = request.headers.get(HEADER_LENGTH)
    if length_text is None:
        header, binary = data, b""
    else:
        try:
            length = int(length_text)
        except ValueError:
            raise BadRequest(f"{HEADER_LENGTH} must be a number of bytes, not {length_text!r}") from None
        if not 0 < length <= len(data):
            raise BadRequest(f"{HEADER_LENGTH} {length} does not fit the body of {len(data)} bytes")
        header, binary = data[:length], data[length:]
    try:
        body = json.loads(header)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the inference request is not valid JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise BadRequest("the inference request must be a JSON object with a list of 'inputs'")
    return body, binary


def _single_input(body: dict[str, Any]) -> dict[str, Any]:
    inputs = body["inputs"]
    if len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise BadRequest(
            "send exactly one input: 'input' (FP32, the preprocessed batch) or 'image' (BYTES, encoded JPEG/PNG)"
        )
    tensor = inputs[0]
    if not isinstance(tensor.get("datatype"), str) or not isinstance(tensor.get("shape"), list):
        raise BadRequest("the input needs a 'datatype' (e.g. FP32 or BYTES) and a 'shape' (e.g. [1, 28, 28, 1])")
    shape = tensor["shape"]
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape) or not shape:
        raise BadRequest(f"the input's shape must be a list of non-negative integers, not {shape!r}")
    return tensor


def _binary_part(tensor: dict[str, Any], binary: bytes) -> bytes | None:
    params = tensor.get("parameters") or {}
    size = params.get("binary_data_size") if isinstance(params, dict) else None
    if size is None:
        return None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0 or size > len(binary):
        raise BadRequest(f"binary_data_size {size!r} does not fit the {len(binary)} bytes after the JSON header")
    return binary[:size]


def _run(model: Model, tensor: dict[str, Any], binary: bytes) -> list[Prediction]:
    datatype, shape = tensor["datatype"], tensor["shape"]
    raw = _binary_part(tensor, binary)
    count = math.prod(shape)
    if datatype == "BYTES":
        check_batch_size(count)  # before splitting the body into that many images
        images = _bytes_elements(raw) if raw is not None else _json_bytes_elements(tensor.get("data"))
        if len(images) != count:
            raise BadRequest(f"the BYTES input holds {len(images)} elements but its shape {shape} says {count}")
        return classify_images(model, images)
    if datatype not in NUMERIC:
        raise BadRequest(f"datatype {datatype!r} is not supported; use FP32 (a tensor) or BYTES (encoded images)")
    dtype = np.dtype(NUMERIC[datatype]).newbyteorder("<")
    try:
        if raw is not None:
            array = np.frombuffer(raw, dtype=dtype)
        else:
            data = tensor.get("data")
            if not isinstance(data, list):
                raise BadRequest("the input has neither 'data' nor binary data (parameters.binary_data_size)")
            array = np.asarray(data, dtype=dtype)
        array = array.reshape(shape)
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadRequest(f"the input's data do not form a {datatype} tensor of shape {shape}: {exc}") from None
    return classify_tensor(model, array)


def _bytes_elements(raw: bytes) -> list[bytes]:
    """Triton's binary BYTES encoding: each element is a 4-byte little-endian length, then that many bytes."""
    elements, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise BadRequest("the binary BYTES input ends inside an element's 4-byte length")
        (size,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + size > len(raw):
            raise BadRequest("a binary BYTES element is longer than the data sent")
        elements.append(raw[offset:offset + size])
        offset += size
    return elements


def _json_bytes_elements(data: object) -> list[bytes]:
    """BYTES in JSON: each element a base64 string (images are not text), or ``{"b64": "..."}``."""
    if not isinstance(data, list):
        raise BadRequest("the BYTES input has neither 'data' nor binary data (parameters.binary_data_size)")
    flat = np.asarray(data, dtype=object).ravel().tolist()
    elements = []
    for item in flat:
        text = item.get("b64") if isinstance(item, dict) else item
        if not isinstance(text, str):
            raise BadRequest("each BYTES element in JSON must be a base64 string of an encoded image")
        try:
            elements.append(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError):
            raise BadRequest("a BYTES element is not valid base64 (send images base64-encoded in JSON)") from None
    return elements


def _requested_outputs(body: dict[str, Any]) -> list[tuple[bool, int]]:
    """[(binary?, classification count)] per requested output; the default is all outputs."""
    params = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
    binary_default = bool(params.get("binary_data_output", False))
    outputs = body.get("outputs")
    if outputs is None:
        return [(binary_default, 0)]
    if not isinstance(outputs, list):
        raise BadRequest("'outputs' must be a list of {\"name\": ...} objects")
    requested = []
    for output in outputs:
        if not isinstance(output, dict) or output.get("name") != OUTPUT:
            raise BadRequest(f"unknown output; this model has one output, {OUTPUT!r}")
        oparams = output.get("parameters") if isinstance(output.get("parameters"), dict) else {}
        classes = oparams.get("classification", 0)
        if not isinstance(classes, int) or isinstance(classes, bool) or classes < 0:
            raise BadRequest("parameters.classification must be a whole number of classes")
        requested.append((bool(oparams.get("binary_data", binary_default)), classes))
    return requested


def _encode(model: Model, body: dict[str, Any], predictions: list[Prediction]) -> Response:
    probabilities = np.stack([p.probabilities for p in predictions]).astype("<f4")
    answer: dict[str, Any] = {"model_name": model.name, "model_version": model.manifest.version}
    if isinstance(body.get("id"), str):
        answer["id"] = body["id"]
    outputs, chunks = [], []
    for binary, classes in _requested_outputs(body):
        if classes:
            top = min(classes, len(model.labels))
            order = np.argsort(-probabilities, axis=1, kind="stable")[:, :top]
            values = [[f"{probabilities[row, i]:f}:{i}:{model.labels[i]}" for i in order[row]]
                      for row in range(len(order))]
            output: dict[str, Any] = {"name": OUTPUT, "datatype": "BYTES", "shape": [len(values), top]}
            data: bytes | list[Any] = (
                b"".join(struct.pack("<I", len(v.encode())) + v.encode() for row in values for v in row)
                if binary else [v for row in values for v in row]
            )
        else:
            output = {"name": OUTPUT, "datatype": "FP32", "shape": list(probabilities.shape)}
            data = probabilities.tobytes() if binary else probabilities.ravel().astype(float).round(6).tolist()
        if isinstance(data, bytes):
            output["parameters"] = {"binary_data_size": len(data)}
            chunks.append(data)
        else:
            output["data"] = data
        outputs.append(output)
    answer["outputs"] = outputs
    if not chunks:
        return jsonify(answer)
    header = json.dumps(answer).encode()
    response = Response(header + b"".join(chunks), content_type="application/octet-stream")
    response.headers[HEADER_LENGTH] = str(len(header))
    return response

