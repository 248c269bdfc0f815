"""What every protocol does between decoding its request and encoding its answer: N inputs, one runtime call.

Images are decoded and preprocessed by the model's own code (as on ``/predict``); tensors are checked against the
model's input shape. Either way the batch is bounded by ``CLASSIFIER_MAX_BATCH`` and classified in one call.
"""

from __future__ import annotations

import numpy as np
from flask import g

from service import deadline
from service.api import settings
from service.errors import BadRequest, PayloadTooLarge, ServiceError
from service.inference import Model, Prediction


def check_batch_size(count: int) -> None:
    limit = settings().max_batch
    if count < 1:
        raise BadRequest("the request holds no inputs; send at least one image or tensor")
    if count > limit:
        raise PayloadTooLarge(f"{count} inputs in one request; at most {limit} are accepted (CLASSIFIER_MAX_BATCH)")


def classify_images(model: Model, images: list[bytes]) -> list[Prediction]:
    """Encoded JPEG/PNG images -> one prediction each, in order; an error names the image it is about."""
    g.model = model
    check_batch_size(len(images))
    max_pixels, max_decoded_bytes = settings().max_pixels, settings().max_decoded_bytes
    inputs = []
    for number, data in enumerate(images, 1):
        try:
            deadline.check(f"decoding image {number} of {len(images)}")
            inputs.append(model.prepare(data, max_pixels, max_decoded_bytes))
        except ServiceError as exc:
            if len(images) == 1:
                raise
            if exc.status >= 500:  # the time limit: not about this image
                raise
            raise ServiceError(f"image {number} of {len(images)}: {exc.message}", status=exc.status,
                               code=exc.code) from exc
    return model.classify(inputs)


def classify_tensor(model: Model, array: np.ndarray) -> list[Prediction]:
    """A preprocessed batch (N, *input_shape) -> one prediction per row, in order."""
    g.model = model
    batch = model.check_tensor(array)
    check_batch_size(len(batch))
    return model.classify(list(batch))
