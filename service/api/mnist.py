"""``POST /mnist/classify``: the public contract kept from an existing service.

Clients read ``response.json()["classification"]``. Invalid input answers 404, as that service documented.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from service.api import registry, settings
from service.api.responses import include_options, input_image_data_url, probabilities_by_label
from service.api.uploads import multipart_image
from service.errors import BadRequest, ServiceError, UnsupportedMediaType

bp = Blueprint("mnist", __name__)
MODEL = "mnist"


@bp.post("/mnist/classify")
def classify() -> Response:
    model = registry().get(MODEL)
    # Parsing a query string costs ~20 us (request.args); this endpoint's clients almost never send one.
    include = include_options(request.args.get("include")) if request.query_string else frozenset()
    try:
        data = multipart_image(request, check_extension=True)
        prediction = model.classify_bytes(data, settings().max_pixels)
    except (BadRequest, UnsupportedMediaType) as exc:
        raise ServiceError(exc.message, status=404, code=exc.code) from exc
    body = dict(
        classification=prediction.label,
        score=round(prediction.probability, 6),
        probabilities=probabilities_by_label(model.labels, prediction.probabilities),
        model=model.name,
        version=model.manifest.version,
    )
    if "input" in include:
        # Prepared again rather than threaded through classify_bytes, so the answer takes exactly the path it takes
        # without the option; only the page asks for it.
        body["input"] = input_image_data_url(model.prepare(data, settings().max_pixels), model.manifest.input_range)
    return jsonify(body)
