"""The memory budget on a real gunicorn (2 workers x 4 threads, as `make serve`): the hungriest uploads the limits
let through, 8 at once, keep every worker's peak RSS at or under 300 MB; the ones over the limits answer 413."""

from __future__ import annotations

import pytest

from scripts import memory_check
from tests.conftest import MODELS_DIR
from tests.gunicorn_server import Gunicorn


@pytest.mark.slow
def test_peak_worker_rss_stays_under_300_mb(tmp_path):
    srv = Gunicorn(tmp_path / "server.log", workers=2, CLASSIFIER_MODELS_DIR=str(MODELS_DIR),
                   CLASSIFIER_MODELS="mnist,flowers", CLASSIFIER_REQUEST_TIMEOUT="120")
    try:
        srv.wait_ready()
        report = memory_check.run(srv.url, srv.process.pid, rounds=1, limit=memory_check.DEFAULT_DECODED_LIMIT,
                                  models=["mnist", "flowers"])
    finally:
        srv.stop()
    print("memory check:", report)
    assert report["statuses"]["png16-rgba-6000 (over the limit)"] == {413: 3}
    # 200, 413 (over a limit), or the digit model's "not a digit" (404 on /mnist/classify, 422 on /predict): these
    # uploads are noise and gradients, not digits.
    assert all(set(counts) <= {200, 404, 413, 422} for counts in report["statuses"].values()), report["statuses"]
    assert max(report["peak_rss_mb"].values()) <= 300, report["peak_rss_mb"]
