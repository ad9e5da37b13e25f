"""pytest --nbval book/: run the kernels as tools/notebooks.py does when storing outputs."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import bookenv  # noqa: E402

bookenv.configure()
