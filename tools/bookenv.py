"""Environment shared by every process that runs the book's notebooks.

Used by tools/notebooks.py (which executes and stores them) and by book/conftest.py
(``pytest --nbval book/``), so that both run the kernels the same way.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_SUBSET = ROOT.parent / "shared" / "data" / "fashion-mnist-subset"


def configure() -> None:
    """Sets the kernel profile, quiet TensorFlow and, offline, the local data subset."""
    os.environ["IPYTHONDIR"] = str(ROOT / ".ipython")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    if "D2L_RESNET_DATA" not in os.environ and SHARED_SUBSET.is_dir():
        os.environ["D2L_RESNET_DATA"] = str(SHARED_SUBSET)
