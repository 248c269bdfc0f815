"""``POST /mnist/classify``: the public contract kept from an existing service.

Clients read ``response.json()["classification"]``. Invalid input answers 404, as that service documented.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from service.api import registry, settings
from service.api.responses import probabilities_by_label
from service.api.uploads import multipart_image
from service.errors import BadRequest, ServiceError, UnsupportedMediaType

bp = Blueprint("mnist", __name__)
MODEL = "mnist"


@bp.post("/mnist/classify")
def classify() -> Response:
    model = registry().get(MODEL)
    try:
        data = multipart_image(request, check_extension=True)
        prediction = model.classify_bytes(data, settings().max_pixels, settings().max_decoded_bytes)
    except (BadRequest, UnsupportedMediaType) as exc:
        raise ServiceError(exc.message, status=404, code=exc.code) from exc
    return jsonify(
        classification=prediction.label,
        score=round(prediction.probability, 6),
        probabilities=probabilities_by_label(model.labels, prediction.probabilities),
        model=model.name,
        version=model.manifest.version,
    )
