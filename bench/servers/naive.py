"""The briefs' naive design: Flask + Keras ``model.predict`` per request (loads the .keras, TensorFlow in each worker).

Same decode and preprocessing as the service (the service's own ``Model.prepare``); only the runtime and request
path differ. gunicorn runs ``bench.servers.naive:create_app()``, so the models load in each worker after the fork.
"""

from __future__ import annotations

import os

from flask import Flask, Response, jsonify, request

from bench.servers.common import MAX_PIXELS, load_model
from service.inference.model import softmax


def create_app() -> Flask:
    """Load both models with Keras and serve the service's two paths, one ``model.predict`` per request."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    served = {name: load_model(name) for name in ("mnist", "flowers")}  # for decode + preprocessing only
    models = {name: keras.models.load_model(m.manifest.directory / m.manifest.files["keras"], compile=False)
              for name, m in served.items()}
    app = Flask(__name__)

    def answer(name: str, data: bytes) -> tuple[str, float]:
        x = served[name].prepare(data, MAX_PIXELS)[None]
        p = softmax(models[name].predict(x, verbose=0))[0]
        i = int(p.argmax())
        return served[name].labels[i], float(p[i])

    @app.post("/mnist/classify")
    def mnist() -> Response:
        label, prob = answer("mnist", request.files["image"].read())
        return jsonify(classification=label, score=prob)

    @app.post("/predict")
    def predict() -> Response:
        label, prob = answer(request.args.get("model", "mnist"), request.get_data())
        return jsonify(prediction=label, probability=prob)

    return app
