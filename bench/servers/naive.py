"""The briefs' naive design: Flask + Keras ``model.predict`` per request (loads the .keras, TensorFlow in each worker).

Same decode and preprocessing as the service (``service.preprocessing``); only the runtime and request path differ.
gunicorn runs ``bench.servers.naive:create_app()``, so the models load in each worker after the fork.
"""

from __future__ import annotations

import os

import numpy as np
from flask import Flask, Response, jsonify, request

from bench.servers.common import MAX_PIXELS, models_dir
from service.inference import Manifest
from service.inference.registry import discover
from service.preprocessing import decode_image, to_mnist, to_rgb_input
from service.preprocessing.digits import WORK_SIDE


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def create_app() -> Flask:
    """Load both models with Keras and serve the service's two paths, one ``model.predict`` per request."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    manifests = {name: Manifest.load(path) for name, path in discover(models_dir(), ("mnist", "flowers")).items()}
    models = {name: keras.models.load_model(m.directory / m.files["keras"], compile=False)
              for name, m in manifests.items()}
    app = Flask(__name__)

    def answer(name: str, data: bytes) -> tuple[str, float]:
        manifest = manifests[name]
        if name == "mnist":
            image = decode_image(data, max_pixels=MAX_PIXELS, grayscale=True, min_side=WORK_SIDE)
            x = to_mnist(image).reshape(1, 28, 28, 1)
        else:
            image = decode_image(data, max_pixels=MAX_PIXELS, min_side=min(manifest.image_size))
            x = to_rgb_input(image, manifest.image_size)[None]
        p = _softmax(models[name].predict(x, verbose=0)[0])
        i = int(p.argmax())
        return manifest.labels[i], float(p[i])

    @app.post("/mnist/classify")
    def mnist() -> Response:
        label, prob = answer("mnist", request.files["image"].read())
        return jsonify(classification=label, score=prob)

    @app.post("/predict")
    def predict() -> Response:
        label, prob = answer(request.args.get("model", "mnist"), request.get_data())
        return jsonify(prediction=label, probability=prob)

    return app
