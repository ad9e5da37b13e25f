"""Shared test settings: quiet TensorFlow, small thread pools, the data fixtures."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import bookenv

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
bookenv.share_cores()  # under pytest -n N, each worker gets 1/N of the cores

FIXTURE = Path(__file__).parent / "fixtures" / "fashion-mnist-tiny"


@pytest.fixture
def tiny_data_dir():
    """The 200 + 100 record Fashion-MNIST fixture shipped in tests/fixtures."""
    return FIXTURE
