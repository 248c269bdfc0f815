"""The floor: a minimal Flask view that answers fixed JSON (what Flask under gunicorn allows, with no work)."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.post("/mnist/classify")
@app.post("/predict")
def fixed_answer() -> Response:
    request.get_data()  # read the body, as any real view must
    return jsonify(classification="7", score=0.99)
