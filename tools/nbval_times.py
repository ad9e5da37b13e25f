"""Where the time of ``pytest --nbval book/`` goes: per framework, per page, slowest cells.

Reads the JUnit XML that ``pytest --nbval book/ --junitxml=FILE`` writes (one test per
code cell, with its time) and the notebooks themselves, whose cell tags say which
framework a cell belongs to (``pytorch``, ``tensorflow``, ``jax``; untagged cells are
shared). pytest's ``--durations`` lists the slowest cells but not what they add up to.

    python tools/nbval_times.py _build/nbval.xml [--slowest 10]

With ``-n 2`` the cell times add up to about twice the wall time: they are worker time.
"""

from __future__ import annotations

import argparse
import re
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import nbformat

from d2l_resnet.registry import FRAMEWORKS as REGISTRY

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = tuple(REGISTRY)


def cell_frameworks(notebook: Path) -> list[str]:
    """The framework of each code cell, in nbval's numbering (code cells only)."""
    nb = nbformat.read(notebook, as_version=4)
    out = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            tags = cell.metadata.get("tags", [])
            out.append(next((t for t in tags if t in FRAMEWORKS), "shared"))
    return out


def notebook_of(classname: str, notebooks: dict[str, Path]) -> Path | None:
    """JUnit's classname for an nbval cell is the notebook's path with dots."""
    return notebooks.get(classname)


def read(xml_path: Path):
    notebooks = {p.relative_to(ROOT).as_posix().replace("/", "."): p
                 for p in (ROOT / "book").glob("*/*.ipynb")}
    notebooks |= {k.removesuffix(".ipynb"): v for k, v in notebooks.items()}
    tags: dict[Path, list[str]] = {}
    rows = []
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        match = re.fullmatch(r"Cell (\d+)", case.get("name", ""))
        notebook = notebook_of(case.get("classname", ""), notebooks)
        if not match or notebook is None:
            continue
        if notebook not in tags:
            tags[notebook] = cell_frameworks(notebook)
        index = int(match.group(1))
        framework = tags[notebook][index] if index < len(tags[notebook]) else "shared"
        failed = case.find("failure") is not None or case.find("error") is not None
        rows.append((notebook.relative_to(ROOT).as_posix(), index, framework,
                     float(case.get("time", 0)), failed))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("xml", type=Path)
    parser.add_argument("--slowest", type=int, default=10)
    args = parser.parse_args(argv)
    rows = read(args.xml)
    if not rows:
        print(f"{args.xml}: no nbval cells found", file=sys.stderr)
        return 1
    by_fw, by_page = defaultdict(float), defaultdict(lambda: defaultdict(float))
    for page, _, fw, seconds, _ in rows:
        by_fw[fw] += seconds
        by_page[page][fw] += seconds
    total = sum(by_fw.values())
    print(f"{len(rows)} cells, {total:.0f} s of cell time "
          f"({sum(r[4] for r in rows)} failed)")
    columns = [*FRAMEWORKS, "shared"]
    print(f"{'':32}" + "".join(f"{c:>12}" for c in columns) + f"{'total':>10}")
    for page in sorted(by_page):
        print(f"{page:32}" + "".join(f"{by_page[page][c]:12.1f}" for c in columns)
              + f"{sum(by_page[page].values()):10.1f}")
    print(f"{'all pages':32}" + "".join(f"{by_fw[c]:12.1f}" for c in columns)
          + f"{total:10.1f}")
    print(f"\nslowest {args.slowest} cells:")
    for page, index, fw, seconds, _ in sorted(rows, key=lambda r: -r[3])[:args.slowest]:
        print(f"{seconds:8.1f} s  {page}::Cell {index}  ({fw})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
