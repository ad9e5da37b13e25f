"""pytest --nbval book/: run the kernels as tools/notebooks.py does when storing outputs."""

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import bookenv  # noqa: E402

bookenv.configure()


# The order in which the workers take the notebooks (pytest -n 2 --dist loadfile). By
# default pytest-xdist starts with the notebooks that hold the most cells: the three
# degradation pages, two of them side by side, so that two kernels compile the same
# JAX programs at the same time. Here the first edition's degradation page runs beside
# the training pages; the other editions' degradation pages follow it and load its
# programs from JAX's compilation cache (tools/bookenv.py). The small pages come last,
# most cells first, so that the two workers end together.
def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist: keep our order
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    files = [Path(str(item.fspath)) for item in items]
    cells = Counter(files)
    editions = {path.parent.name for path in files}
    first_edition = "en" if "en" in editions else min(editions, default="")

    def rank(path):
        if path.stem == "degradation":
            return 0 if path.parent.name == first_edition else 2
        return 1 if path.stem == "training" else 3

    order = {id(item): (rank(path), -cells[path], str(path))
             for item, path in zip(items, files)}
    items.sort(key=lambda item: order[id(item)])  # stable: cells keep their order
