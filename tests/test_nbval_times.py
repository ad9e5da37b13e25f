"""tools/nbval_times.py: nbval's per-cell times summed per framework and page."""

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import nbval_times

PAGE = ROOT / "book" / "en" / "degradation.ipynb"


def test_cell_times_are_attributed_to_their_framework(tmp_path, capsys):
    nb = nbformat.read(PAGE, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    fws = nbval_times.cell_frameworks(PAGE)
    assert len(fws) == len(code) and set(fws) == {"shared", "pytorch", "tensorflow", "jax"}
    # One cell per framework plus a shared one, each with its own time.
    picks = {fw: fws.index(fw) for fw in ("shared", "pytorch", "tensorflow", "jax")}
    seconds = {"shared": 1.0, "pytorch": 2.0, "tensorflow": 4.0, "jax": 8.0}
    cases = "".join(
        f'<testcase classname="book.en.degradation.ipynb" name="Cell {i}" '
        f'time="{seconds[fw]}"/>' for fw, i in picks.items())
    xml = tmp_path / "nbval.xml"
    xml.write_text(f'<testsuites><testsuite name="pytest">{cases}'
                   '<testcase classname="tests.test_x" name="test_y" time="99"/>'
                   '</testsuite></testsuites>')
    rows = nbval_times.read(xml)
    assert sorted((fw, t) for _, _, fw, t, _ in rows) == sorted(seconds.items())
    assert nbval_times.main([str(xml), "--slowest", "2"]) == 0
    out = capsys.readouterr().out
    assert "4 cells, 15 s of cell time" in out
    assert "8.0 s  book/en/degradation.ipynb::Cell" in out.split("slowest 2 cells:")[1]
