"""``POST /mnist/classify``: the public contract kept from an existing service.

Clients read ``response.json()["classification"]``. Invalid input answers 404, as that service documented; so
does a valid image without a handwritten digit (``"code": "not_a_digit"``), which such clients already read as
"could not classify".
"""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from service.api import registry, settings
from service.api.responses import include_options, probabilities_by_label, shown_input
from service.api.uploads import multipart_image
from service.errors import BadRequest, NotADigit, ServiceError, UnsupportedMediaType

bp = Blueprint("mnist", __name__)
MODEL = "mnist"


@bp.post("/mnist/classify")
def classify() -> Response:
    model = registry().get(MODEL)
    g.model = model
    # Parsing a query string costs ~20 us (request.args); this endpoint's clients almost never send one.
    include = include_options(request.args.get("include")) if request.query_string else frozenset()
    try:
        data = multipart_image(request, check_extension=True)
        prediction = model.classify_bytes(data, settings().max_pixels, settings().max_decoded_bytes)
    except (BadRequest, UnsupportedMediaType) as exc:
        raise ServiceError(exc.message, status=404, code=exc.code) from exc
    shown = shown_input(prediction, model.manifest.input_range, include)
    if not prediction.recognised:
        raise NotADigit(status=404, details={"score": round(prediction.probability, 6), **shown})
    return jsonify(
        classification=prediction.label,
        score=round(prediction.probability, 6),
        probabilities=probabilities_by_label(model.labels, prediction.probabilities),
        model=model.name,
        version=model.manifest.version,
        **shown,
    )
