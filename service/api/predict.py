"""``POST /predict`` and ``POST /api/v1/predict``: any model, raw body or multipart, ``?model=NAME``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from service.api import registry, settings
from service.api.responses import include_options, input_image_data_url, label_value, probabilities_by_label
from service.api.uploads import request_image

bp = Blueprint("predict", __name__)


@bp.post("/predict")
@bp.post("/api/v1/predict")
def predict() -> Response:
    model = registry().get(request.args.get("model") or settings().default_model)
    include = include_options(request.args.get("include"))
    data = request_image(request)
    prediction = model.classify_bytes(data, settings().max_pixels)
    body = dict(
        prediction=label_value(prediction.label),
        probability=round(prediction.probability, 6),
        label=prediction.label,
        index=prediction.index,
        probabilities=probabilities_by_label(model.labels, prediction.probabilities),
        model=model.name,
        version=model.manifest.version,
    )
    if "input" in include:
        body["input"] = input_image_data_url(model.prepare(data, settings().max_pixels), model.manifest.input_range)
    return jsonify(body)
