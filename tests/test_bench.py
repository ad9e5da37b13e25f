"""The speed benchmark runs end to end (on the tiny fixture, so in seconds)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "train_speed.py"


@pytest.mark.parametrize("framework", ["torch", "tensorflow"])
def test_benchmark_reports_both_runs_and_the_ratio(framework, tiny_data_dir, tmp_path):
    out = tmp_path / "result.json"
    subprocess.run(
        [sys.executable, str(BENCH), "--framework", framework, "--data", str(tiny_data_dir),
         "--epochs", "2", "--num-train", "64", "--num-val", "32", "--resize", "32",
         "--batch-size", "32", "--json", str(out)],
        check=True, capture_output=True, text=True, timeout=300)
    result = json.loads(out.read_text())[framework]
    for run in ("baseline", "library"):
        report = result[run]
        assert len(report["seconds_per_epoch"]) == 2 and len(report["val_acc"]) == 2
        assert all(0 <= a <= 1 for a in report["val_acc"]) and report["images_per_s"] > 0
    assert result["speedup"] == pytest.approx(
        result["library"]["images_per_s"] / result["baseline"]["images_per_s"])
