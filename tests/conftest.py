"""Shared test settings: quiet TensorFlow, small thread pools, the data fixtures."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FIXTURE = Path(__file__).parent / "fixtures" / "fashion-mnist-tiny"


@pytest.fixture
def tiny_data_dir():
    """The 200 + 100 record Fashion-MNIST fixture shipped in tests/fixtures."""
    return FIXTURE
