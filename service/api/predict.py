"""``POST /predict`` and ``POST /api/v1/predict``: any model, raw body or multipart, ``?model=NAME``.

One image answers one prediction object; several ``image`` parts in one multipart request answer
``{"predictions": [...], "model", "version"}`` in the order of the parts, from one runtime call. A digit model's
"not a digit" is a 422 for one image, and that item's ``{"error", "code": "not_a_digit", "score"}`` in a batch.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from service.api import registry, settings
from service.api.batches import classify_images
from service.api.responses import include_options, label_value, probabilities_by_label, shown_input
from service.api.uploads import request_images
from service.errors import NotADigit
from service.inference import Model, Prediction

bp = Blueprint("predict", __name__)


def _refusal(model: Model, prediction: Prediction, include: frozenset[str]) -> NotADigit:
    shown = shown_input(prediction, model.manifest.input_range, include)
    return NotADigit(details={"score": round(prediction.probability, 6), **shown})


def _answer(model: Model, prediction: Prediction, include: frozenset[str] = frozenset()) -> dict[str, object]:
    if not prediction.recognised:
        return _refusal(model, prediction, include).to_dict()
    return {
        "prediction": label_value(prediction.label),
        "probability": round(prediction.probability, 6),
        "label": prediction.label,
        "index": prediction.index,
        "probabilities": probabilities_by_label(model.labels, prediction.probabilities),
        **shown_input(prediction, model.manifest.input_range, include),
    }


@bp.post("/predict")
@bp.post("/api/v1/predict")
def predict() -> Response:
    model = registry().get(request.args.get("model") or settings().default_model, request.args.get("version") or None)
    g.model = model
    include = include_options(request.args.get("include")) if request.query_string else frozenset()
    images = request_images(request)
    if len(images) == 1:
        prediction = model.classify_bytes(images[0], settings().max_pixels, settings().max_decoded_bytes)
        if not prediction.recognised:
            refusal = _refusal(model, prediction, include)
            refusal.details.update(model=model.name, version=model.manifest.version)
            raise refusal
        return jsonify(**_answer(model, prediction, include), model=model.name, version=model.manifest.version)
    predictions = classify_images(model, images)
    return jsonify(predictions=[_answer(model, p, include) for p in predictions], model=model.name,
                   version=model.manifest.version)
