"""``python -m training.synth.gate_check``: the served digit gate measured on renders of an unseen seed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import MODELS_DIR, SHARED_DATA
from training.synth import gate_check


def test_rates_count_refusals_per_kind_and_digits_read_right():
    refused = np.array([True, False, True, True, False])
    right = np.array([False, False, True, False, True])
    y = np.array([-1, -1, 3, 5, 7])
    kind = np.array(["blank", "scribble", "drawing", "drawing", "scan"])
    report = gate_check.rates(refused, right, y, kind)
    assert report["non_digits"] == 2 and report["non_digits_refused_percent"] == 50.0
    assert report["non_digits_refused_percent_by_kind"] == {"blank": 100.0, "scribble": 0.0}
    assert report["digits"] == 3 and report["digits_refused_percent"] == pytest.approx(66.67)
    assert report["digits_read_right_and_accepted_percent"] == pytest.approx(33.33)  # the 7: read right, accepted


@pytest.mark.skipif(not (SHARED_DATA / "mnist" / "mnist.npz").is_file(),
                    reason=f"needs MNIST and the photos at {SHARED_DATA}")
def test_the_command_measures_the_shipped_model(capsys):
    code = gate_check.main(["--seed", "3", "--digits", "20", "--negatives", "20", "--workers", "1",
                            "--models", str(MODELS_DIR), "--photos-root", str(SHARED_DATA)])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == "mnist" and report["seed"] == 3
    assert report["non_digits"] == 20 and report["digits"] == 20
    # The shipped model refuses most non-digits and reads most digits: a gate that let everything through, or
    # refused everything, would fail one of these.
    assert report["non_digits_refused_percent"] >= 75
    assert report["digits_read_right_and_accepted_percent"] >= 60


def test_a_missing_data_folder_is_a_clear_error(tmp_path, capsys):
    assert gate_check.main(["--photos-root", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err
