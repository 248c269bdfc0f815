"""``POST /predict`` and ``POST /api/v1/predict``: any model, raw body or multipart, ``?model=NAME``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from service.api import registry, settings
from service.api.responses import label_value, probabilities_by_label
from service.api.uploads import request_image

bp = Blueprint("predict", __name__)


@bp.post("/predict")
@bp.post("/api/v1/predict")
def predict() -> Response:
    model = registry().get(request.args.get("model") or settings().default_model)
    prediction = model.classify_bytes(request_image(request), settings().max_pixels,
                                       settings().max_decoded_bytes)
    return jsonify(
        prediction=label_value(prediction.label),
        probability=round(prediction.probability, 6),
        label=prediction.label,
        index=prediction.index,
        probabilities=probabilities_by_label(model.labels, prediction.probabilities),
        model=model.name,
        version=model.manifest.version,
    )
