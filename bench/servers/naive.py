"""The briefs' naive design: Flask + Keras ``model.predict`` per request (loads the .keras, TensorFlow in each worker).

Same decode and preprocessing as the service (``service.preprocessing``); only the runtime and request path differ.
"""

from __future__ import annotations

import os

import numpy as np
from flask import Flask, jsonify, request

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from bench.servers.common import MAX_PIXELS, models_dir  # noqa: E402
from service.inference import Manifest  # noqa: E402
from service.inference.registry import discover  # noqa: E402
from service.preprocessing import decode_image, to_mnist, to_rgb_input  # noqa: E402
from service.preprocessing.digits import WORK_SIDE  # noqa: E402

app = Flask(__name__)
_manifests = {name: Manifest.load(path) for name, path in discover(models_dir(), ("mnist", "flowers")).items()}
_models = {name: keras.models.load_model(m.directory / m.files["keras"], compile=False) for name, m in _manifests.items()}


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def _answer(name: str, data: bytes):
    manifest = _manifests[name]
    if name == "mnist":
        x = to_mnist(decode_image(data, max_pixels=MAX_PIXELS, grayscale=True, min_side=WORK_SIDE)).reshape(1, 28, 28, 1)
    else:
        x = to_rgb_input(decode_image(data, max_pixels=MAX_PIXELS, min_side=min(manifest.image_size)), manifest.image_size)[None]
    p = _softmax(_models[name].predict(x, verbose=0)[0])
    i = int(p.argmax())
    return manifest.labels[i], float(p[i])


@app.post("/mnist/classify")
def mnist():
    label, prob = _answer("mnist", request.files["image"].read())
    return jsonify(classification=label, score=prob)


@app.post("/predict")
def predict():
    label, prob = _answer(request.args.get("model", "mnist"), request.get_data())
    return jsonify(prediction=label, probability=prob)
