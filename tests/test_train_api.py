"""The training and promotion endpoints' answers that need no training run: auth, and every error case."""

from __future__ import annotations

import pytest

from service import create_app
from service.config import Settings

SPEC_LENET5 = {"dataset": "MnistDataset", "dataset_args": {"image_size": [28, 28, 1]}, "model": "DigitModel",
               "network": "lenet5", "network_args": {"activation": "relu", "dropout_amount": 0.2},
               "train_args": {"batch_size": 32, "epochs": 10}, "save_weights": True}


@pytest.fixture
def jobs_app(settings, registry, tmp_path):
    def build(**overrides):
        app = create_app(Settings(**{**settings.__dict__, "state_dir": tmp_path / "var", **overrides}), registry)
        app.config["TESTING"] = True
        return app.test_client()

    return build


@pytest.mark.parametrize(("kwargs", "status", "code", "words"), [
    ({"data": "not json", "content_type": "text/plain"}, 415, "unsupported_media_type", "application/json"),
    ({"data": "{broken", "content_type": "application/json"}, 400, "bad_request", "not valid JSON"),
    ({"data": "x" * 70_000, "content_type": "application/json"}, 413, "payload_too_large", "at most"),
    ({"json": {"network": "resnet9", "train_args": {"epochs": 0}}}, 422, "invalid_config",
     "dataset: is required; model: is required"),
    ({"json": dict(SPEC_LENET5, filename="/etc", version="3")}, 422, "invalid_config", "filename: set by the service"),
    ({"json": dict(SPEC_LENET5, promote="sometimes")}, 422, "invalid_config", "promote: must be one of"),
    ({"json": [1, 2]}, 422, "invalid_config", "must be a JSON object"),
])
def test_train_errors(jobs_app, kwargs, status, code, words):
    response = jobs_app().post("/api/v1/train", **kwargs)
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["code"] == code and words in body["error"]


def test_422_names_every_bad_field(jobs_app):
    bad = dict(SPEC_LENET5, network="resnet9", train_args={"epochs": 0, "batch_size": "32"})
    error = jobs_app().post("/api/v1/train", json=bad).get_json()["error"]
    for field in ("network: unknown network", "train_args.batch_size: must be an integer", "train_args.epochs"):
        assert field in error


def test_unknown_job_and_empty_list(jobs_app):
    client = jobs_app()
    assert client.get("/api/v1/train").get_json() == {"jobs": []}
    for method in (client.get, client.delete):
        response = method("/api/v1/train/nope")
        assert response.status_code == 404 and response.get_json()["code"] == "job_not_found"


def test_brief_train_refuses_unknown_fields(jobs_app):
    response = jobs_app().post("/train", json={"epochs": 1, "learning": "fast"})
    assert response.status_code == 422 and "learning: unknown field" in response.get_json()["error"]


def test_token_is_required_when_set(jobs_app):
    client = jobs_app(admin_token="s3cret")
    missing = client.post("/api/v1/train", json=SPEC_LENET5)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.post("/api/v1/train", json=SPEC_LENET5, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and wrong.get_json()["code"] == "forbidden"
    for call in (lambda h: client.delete("/api/v1/train/k", headers=h), lambda h: client.post("/train", headers=h),
                 lambda h: client.post("/api/v1/models/mnist/versions/1/promote", headers=h)):
        assert call({}).status_code == 401
        assert call({"Authorization": "Bearer wrong"}).status_code == 403
    # Past the check, the request is judged on its own: 422 for a bad config, 200 for a valid promotion.
    good = {"Authorization": "Bearer s3cret"}
    assert client.post("/api/v1/train", json={"model": "x"}, headers=good).status_code == 422
    assert client.post("/api/v1/models/mnist/versions/1/promote", headers=good).status_code == 200
    assert client.get("/api/v1/train").status_code == 200  # reading stays open
    assert client.post("/predict", data=b"", headers={"Content-Type": "image/png"}).status_code == 400


def test_without_token_only_loopback_may(jobs_app):
    client = jobs_app()
    remote = client.post("/api/v1/models/mnist/versions/1/promote", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert remote.status_code == 403 and "CLASSIFIER_ADMIN_TOKEN" in remote.get_json()["error"]
    local = client.post("/api/v1/models/mnist/versions/1/promote", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert local.status_code == 200 and local.get_json()["default_version"] == "1"
