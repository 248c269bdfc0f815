"""The OpenAPI 3.1 description of every route, kept by hand beside the blueprints.

Why by hand: the routes are plain Flask functions whose bodies are parsed by protocol code (multipart, raw images,
binary tensors), which no generator can see; a written document says exactly what the protocols promise, and
``tests/test_openapi.py`` keeps it honest (every rule of the URL map documented; schemathesis checks live answers
against it). Served at ``/openapi.json``; ``/docs`` renders it with Swagger UI from the flask-swagger-ui package.
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"

ERROR = {
    "type": "object",
    "description": "Every error: a message a person understands, a stable code, the HTTP status.",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "code": {"type": "string"}, "status": {"type": "integer"}},
}
PROBABILITIES = {"type": "object", "additionalProperties": {"type": "number"}, "description": "label -> probability"}
PREDICTION = {
    "type": "object",
    "required": ["prediction", "probability", "label", "index", "probabilities"],
    "properties": {
        "prediction": {"type": ["integer", "string"], "description": "digits as numbers, other labels as names"},
        "probability": {"type": "number"},
        "label": {"type": "string"},
        "index": {"type": "integer"},
        "probabilities": {"$ref": "#/components/schemas/Probabilities"},
        "model": {"type": "string"},
        "version": {"type": "string"},
    },
}
BATCH = {
    "type": "object",
    "required": ["predictions", "model", "version"],
    "properties": {
        "predictions": {"type": "array", "items": {"$ref": "#/components/schemas/Prediction"}},
        "model": {"type": "string"},
        "version": {"type": "string"},
    },
}
MODEL = {
    "type": "object",
    "required": ["name", "version", "labels"],
    "properties": {
        "name": {"type": "string"}, "version": {"type": "string"},
        "labels": {"type": "array", "items": {"type": "string"}},
        "input": {"type": "object"}, "preprocessing": {"type": "object"}, "output": {"type": "string"},
        "metrics": {"type": "object"}, "created": {"type": ["string", "null"]}, "runtime": {"type": "string"},
    },
}
V2_TENSOR = {
    "type": "object",
    "required": ["name", "datatype", "shape"],
    "properties": {
        "name": {"type": "string"},
        "datatype": {"type": "string", "description": "FP32 (a preprocessed tensor) or BYTES (encoded images)"},
        "shape": {"type": "array", "items": {"type": "integer"}},
        "parameters": {"type": "object"},
        "data": {"type": "array", "description": "flattened values; BYTES as base64 strings"},
    },
}
V2_REQUEST = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "parameters": {"type": "object", "properties": {"binary_data_output": {"type": "boolean"}}},
        "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/V2Tensor"}},
        "outputs": {"type": "array", "items": {
            "type": "object", "required": ["name"],
            "properties": {"name": {"type": "string", "const": "probabilities"}, "parameters": {
                "type": "object", "properties": {"binary_data": {"type": "boolean"},
                                                 "classification": {"type": "integer"}}}}}},
    },
}
V2_RESPONSE = {
    "type": "object",
    "required": ["model_name", "outputs"],
    "properties": {
        "model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {"type": "string"},
        "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/V2Tensor"}},
    },
}
V2_TENSOR_META = {
    "type": "object", "required": ["name", "datatype", "shape"],
    "properties": {"name": {"type": "string"}, "datatype": {"type": "string"},
                   "shape": {"type": "array", "items": {"type": "integer"}}},
}
V2_MODEL = {
    "type": "object",
    "required": ["name", "versions", "platform", "inputs", "outputs"],
    "properties": {
        "name": {"type": "string"}, "versions": {"type": "array", "items": {"type": "string"}},
        "platform": {"type": "string"},
        "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/V2TensorMetadata"}},
        "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/V2TensorMetadata"}},
    },
}
INSTANCE = {
    "description": "an encoded image {\"b64\": ...} (also under one named key), or a pixel array of the input shape",
    "oneOf": [
        {"type": "object"},
        {"type": "array"},
    ],
}
TFS_REQUEST = {
    "type": "object",
    "properties": {
        "signature_name": {"type": "string"},
        "instances": {"type": "array", "items": INSTANCE},
        "inputs": {"oneOf": [{"type": "array", "items": INSTANCE}, {"type": "object"}]},
    },
}
TFS_PREDICT = {
    "type": "object",
    "properties": {
        "predictions": {"type": "array", "items": {
            "type": "object", "required": ["classes", "probabilities"],
            "properties": {"classes": {"type": "integer"},
                           "probabilities": {"type": "array", "items": {"type": "number"}}}}},
        "outputs": {"type": "object", "required": ["classes", "probabilities"], "properties": {
            "classes": {"type": "array", "items": {"type": "integer"}},
            "probabilities": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}}},
    },
}
TFS_CLASSIFY = {
    "type": "object", "required": ["results"],
    "properties": {"results": {"type": "array", "items": {"type": "array", "items": {
        "type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}], "minItems": 2, "maxItems": 2}}}},
}
TFS_STATUS = {
    "type": "object", "required": ["model_version_status"],
    "properties": {
        "model_version_status": {"type": "array", "items": {
            "type": "object", "required": ["version", "state"],
            "properties": {"version": {"type": "string"},
                           "state": {"type": "string", "enum": ["START", "LOADING", "AVAILABLE", "UNLOADING", "END"]},
                           "status": {"type": "object"}}}},
        "name": {"type": "string"}, "ready": {"type": "boolean"},
    },
}

SCHEMAS = {
    "Error": ERROR, "Probabilities": PROBABILITIES, "Prediction": PREDICTION, "PredictionBatch": BATCH,
    "Model": MODEL, "V2Tensor": V2_TENSOR, "V2TensorMetadata": V2_TENSOR_META, "V2InferenceRequest": V2_REQUEST,
    "V2InferenceResponse": V2_RESPONSE, "V2ModelMetadata": V2_MODEL, "TFServingRequest": TFS_REQUEST,
    "TFServingPredictResponse": TFS_PREDICT, "TFServingClassifyResponse": TFS_CLASSIFY,
    "TFServingModelStatus": TFS_STATUS,
}


PATH_EXAMPLES = {"name": "mnist", "version": "1", "path": "index.css", "filename": "x", "key": "0ed667ed6e9e485a"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _op(summary: str, tag: str, ok: dict[str, Any], errors: dict[str, str] | None = None,
        body: dict[str, Any] | None = None, params: list[str] = ()) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": ok}
    for status, why in (errors or {}).items():
        responses[status] = {"description": why, "content": {JSON: {"schema": _ref("Error")}}}
    responses["default"] = {"description": "any other error, same shape", "content": {JSON: {"schema": _ref("Error")}}}
    operation: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        operation["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"},
                                    "example": PATH_EXAMPLES.get(p, "x")} for p in params]
    if body is not None:
        operation["requestBody"] = body
    return operation


IMAGE_BYTES = {"type": "string", "format": "binary"}
IMAGE_BODY = {
    "required": True,
    "content": {
        "image/png": {"schema": IMAGE_BYTES}, "image/jpeg": {"schema": IMAGE_BYTES},
        "application/octet-stream": {"schema": IMAGE_BYTES},
        "multipart/form-data": {"schema": {"type": "object", "required": ["image"], "properties": {"image": {
            "oneOf": [IMAGE_BYTES, {"type": "array", "items": IMAGE_BYTES}]}}}},
    },
}
MNIST_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["image"], "properties": {"image": IMAGE_BYTES}}}}}
V2_BODY = {"required": True, "content": {
    JSON: {"schema": _ref("V2InferenceRequest")},
    "application/octet-stream": {"schema": IMAGE_BYTES, "description": "binary tensor extension: the JSON header "
                                 "(Inference-Header-Content-Length bytes), then the tensors' bytes"}}}
TFS_BODY = {"required": True, "content": {JSON: {"schema": _ref("TFServingRequest")}}}
IMAGE_ERRORS = {"400": "malformed request or image", "404": "unknown model", "413": "too large or too many images",
                "415": "unsupported media type or image format",
                "422": "not_a_digit: a digit model was sent an image without a handwritten digit"}
INCLUDE = {"name": "include", "in": "query", "required": False, "schema": {"type": "string", "enum": ["input"]},
           "description": "input: add the network's input as a PNG data URL (what the model was shown)"}
PREDICT = _op("Classify one image (raw body or multipart 'image'), or several multipart 'image' parts in order",
              "native", {"description": "one image: a prediction; several: a batch", "content": {JSON: {"schema": {
                  "oneOf": [_ref("Prediction"), _ref("PredictionBatch")]}}}}, IMAGE_ERRORS, IMAGE_BODY)
PREDICT["parameters"] = [{"name": "model", "in": "query", "required": False, "schema": {"type": "string"},
                          "description": "model name (default: CLASSIFIER_DEFAULT_MODEL)"}, INCLUDE]
V2_INFER_ERRORS = {"400": "malformed request or tensor", "404": "unknown model or version",
                   "413": "batch larger than CLASSIFIER_MAX_BATCH", "415": "unsupported image format"}
V2_INFER_OK = {"description": "JSON answer, or the binary extension (Inference-Header-Content-Length)",
               "content": {JSON: {"schema": _ref("V2InferenceResponse")},
                           "application/octet-stream": {"schema": IMAGE_BYTES}}}
TFS_ERRORS = {"400": "malformed request", "404": "unknown model or version", "413": "too many instances",
              "415": "unsupported image format"}
TEXT = {"description": "OK", "content": {"text/html": {"schema": {"type": "string"}}}}


def _v2_model_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for prefix, params in (("/v2/models/{name}", ["name"]), ("/v2/models/{name}/versions/{version}",
                                                             ["name", "version"])):
        paths[prefix] = {"get": _op("Model metadata", "kserve-v2", _json(_ref("V2ModelMetadata")),
                                    {"404": "unknown model or version"}, params=params)}
        paths[prefix + "/ready"] = {"get": _op("Model readiness", "kserve-v2", _json(
            {"type": "object", "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}}}),
            {"404": "unknown model or version"}, params=params)}
        paths[prefix + "/infer"] = {"post": _op("Inference: one FP32 tensor (batch first) or BYTES images",
                                                "kserve-v2", V2_INFER_OK, V2_INFER_ERRORS, V2_BODY, params)}
    return paths


def _tfs_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for prefix, params in (("/v1/models/{name}", ["name"]), ("/v1/models/{name}/versions/{version}",
                                                             ["name", "version"])):
        paths[prefix] = {"get": _op("Model version status", "tfserving", _json(_ref("TFServingModelStatus")),
                                    {"404": "unknown model or version"}, params=params)}
        paths[prefix + "/metadata"] = {"get": _op("Signature", "tfserving", _json({"type": "object", "required": [
            "model_spec", "metadata"]}), {"404": "unknown model or version"}, params=params)}
        paths[prefix + ":predict"] = {"post": _op(
            "Predict: row format (instances) -> predictions, columnar (inputs) -> outputs", "tfserving",
            _json(_ref("TFServingPredictResponse")), TFS_ERRORS, TFS_BODY, params)}
        paths[prefix + ":classify"] = {"post": _op("Classify -> [label, score] pairs, best first", "tfserving",
                                                   _json(_ref("TFServingClassifyResponse")), TFS_ERRORS, TFS_BODY,
                                                   params)}
    return paths


PRIVILEGED = {"401": "CLASSIFIER_ADMIN_TOKEN is set and no bearer token was sent",
              "403": "a wrong token, or (without a token configured) a client that is not on loopback"}
JOB = {"type": "object", "required": ["key", "status"], "properties": {
    "key": {"type": "string"}, "status": {"type": "string",
                                          "enum": ["queued", "running", "success", "failed", "cancelled"]},
    "current_epoch": {"type": ["integer", "null"]}, "epochs": {"type": ["integer", "null"]},
    "current_loss": {"type": ["number", "null"]}, "history": {"type": "array"},
    "message": {"type": ["object", "string", "null"]}, "model": {"type": ["object", "null"]},
    "error": {"type": ["string", "null"]}}}
TRAIN_CONFIG = {"required": True, "content": {JSON: {"schema": {"type": "object", "description": (
    "dataset, dataset_args, model, network, network_args, train_args {batch_size, epochs, ...}, save_weights, "
    "promote (if_better | always | never)")}}}}


def _training_paths() -> dict[str, Any]:
    """Training jobs and promotion (privileged: a bearer token, or loopback without one)."""
    started = {"description": "accepted: the job is queued", "content": {JSON: {"schema": {
        "type": "object", "required": ["key", "status_url"], "properties": {
            "key": {"type": "string"}, "message": {"type": "string"}, "status_url": {"type": "string"}}}}}}
    post_train = _op("Start a training job from a config", "training", started,
                     {**PRIVILEGED, "413": "body too large", "415": "not JSON", "422": "invalid config fields"},
                     TRAIN_CONFIG)
    post_train["responses"]["202"] = post_train["responses"].pop("200")
    brief = _op("Retrain the digit model; {accuracy} when it ends, or 202 with Prefer: respond-async", "training",
                _json({"type": "object", "properties": {"accuracy": {"type": "number"}}}),
                {**PRIVILEGED, "415": "not JSON", "422": "invalid fields"},
                {"required": False, "content": {JSON: {"schema": {"type": "object", "properties": {
                    "epochs": {"type": "integer"}, "batch_size": {"type": "integer"}, "network": {"type": "string"}}}}}})
    brief["responses"]["202"] = started
    return {
        "/api/v1/train": {
            "post": post_train,
            "get": _op("Training jobs, newest first", "training", _json({"type": "object", "properties": {
                "jobs": {"type": "array", "items": JOB}}})),
        },
        "/api/v1/train/{key}": {
            "get": _op("One job: status, progress, history, result", "training", _json(JOB), {"404": "unknown key"},
                       params=["key"]),
            "delete": _op("Cancel a queued or running job", "training", _json(JOB),
                          {**PRIVILEGED, "404": "unknown key", "409": "the job has already ended"}, params=["key"]),
        },
        "/train": {"post": brief},
        "/api/v1/models/{name}/versions/{version}/promote": {"post": _op(
            "Make a version the default (also how to roll back)", "training", _json({"type": "object"}),
            {**PRIVILEGED, "404": "unknown model or version", "409": "the version cannot be served"},
            params=["name", "version"])},
    }


def document() -> dict[str, Any]:
    """The whole OpenAPI document (a new dict each call)."""
    ready = {"type": "object", "properties": {"status": {"type": "string"},
                                              "models": {"type": "array", "items": {"type": "string"}},
                                              "errors": {"type": "object"}}}
    paths: dict[str, Any] = {
        "/mnist/classify": {"post": _op(
            "Classify a digit photo (multipart 'image'); invalid input answers 404 (kept public contract)", "native",
            _json({"type": "object", "required": ["classification"], "properties": {
                "classification": {"type": "string"}, "score": {"type": "number"},
                "probabilities": _ref("Probabilities"), "model": {"type": "string"},
                "version": {"type": "string"}, "input": {"type": "string"}}}),
            {"400": "unknown include option",
             "404": "invalid input (no image, not a JPEG/PNG, wrong extension), or code not_a_digit: no handwritten "
                    "digit in the image", "413": "too large"}, MNIST_BODY)},
        "/predict": {"post": PREDICT},
        "/api/v1/predict": {"post": PREDICT},
        "/api/v1/models": {"get": _op("Every served model", "native", _json({"type": "object", "properties": {
            "models": {"type": "array", "items": _ref("Model")}}}))},
        "/api/v1/models/{name}": {"get": _op("One model", "native", _json(_ref("Model")), {"404": "unknown model"},
                                             params=["name"])},
        "/healthz": {"get": _op("Liveness", "operations", _json({"type": "object"}))},
        "/readyz": {"get": _op("Readiness: 200 once every model is loaded in this worker, else 503", "operations",
                               _json(ready), {"503": "not ready"})},
        "/metrics": {"get": _op("Prometheus metrics (all workers)", "operations", {
            "description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}})},
        "/openapi.json": {"get": _op("This document", "operations", _json({"type": "object"}))},
        "/": {"get": _op("The page for people (a browser, Accept: text/html); for API clients KServe v1's liveness",
                         "page", {"description": "OK", "content": {
                             "text/html": {"schema": {"type": "string"}},
                             JSON: {"schema": {"type": "object", "properties": {"status": {"type": "string"}}}}}})},
        "/train": {"get": _op("The training page: models, versions, runs and their curves", "page", TEXT)},
        "/docs/": {"get": _op("Swagger UI for this document (served from the package, no CDN)", "operations", TEXT)},
        "/docs/{path}": {"get": _op("Swagger UI's static files", "operations", {
            "description": "a file", "content": {"*/*": {"schema": IMAGE_BYTES}}}, {"404": "no such file"},
            params=["path"])},
        "/static/{filename}": {"get": _op("Static files", "operations", {
            "description": "a file", "content": {"*/*": {"schema": IMAGE_BYTES}}}, {"404": "no such file"},
            params=["filename"])},
        "/v2": {"get": _op("Server metadata", "kserve-v2", _json({"type": "object", "required": [
            "name", "version", "extensions"]}))},
        "/v2/health/live": {"get": _op("Server liveness", "kserve-v2", _json({"type": "object", "properties": {
            "live": {"type": "boolean"}}}))},
        "/v2/health/ready": {"get": _op("Server readiness", "kserve-v2", _json({"type": "object", "properties": {
            "ready": {"type": "boolean"}}}), {"503": "not ready"})},
        **_v2_model_paths(),
        **_tfs_paths(),
    }
    for path, item in _training_paths().items():
        paths.setdefault(path, {}).update(item)
    paths["/mnist/classify"]["post"]["parameters"] = [INCLUDE]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Image classification service",
            "version": "1",
            "description": "Digits, flowers and mugs over three protocols: the native routes, KServe v2 / Open "
                           "Inference Protocol and TensorFlow Serving REST. Every response carries X-Request-ID.",
        },
        "tags": [{"name": "native"}, {"name": "kserve-v2"}, {"name": "tfserving"}, {"name": "operations"},
                 {"name": "page"}, {"name": "training"}],
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }
