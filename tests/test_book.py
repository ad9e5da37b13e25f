"""The book's sources: pairs in sync, library code shown verbatim, links that resolve,
clean stored notebooks, current figures."""

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import notebooks

PAGES = notebooks.paired_pages()
LANGS = sorted({p.parent.name for p in PAGES})
FRAMEWORK_TAGS = {"pytorch", "tensorflow"}


def page_id(p):
    return f"{p.parent.name}/{p.stem}"


def test_there_are_pages():
    assert {p.stem for p in PAGES} >= {
        "function-classes", "residual-blocks", "resnet-model", "training", "resnext", "summary"}


def test_md_and_ipynb_pairs_in_sync():
    assert notebooks.out_of_sync() == []


def test_library_code_shown_verbatim(capsys):
    assert notebooks.sync_sources(check=True) == 0, capsys.readouterr().out
    shown = {(fw, name) for p in PAGES for _, fw, name in notebooks.shown_classes(p.read_text())}
    assert {("pytorch", "Residual"), ("tensorflow", "Residual"), ("pytorch", "ResNeXtBlock"),
            ("tensorflow", "ResNeXtBlock"), ("pytorch", "ResNet"), ("tensorflow", "ResNet")
            } <= shown


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_code_cells_come_in_framework_pairs(page):
    nb = nbformat.read(page.with_suffix(".ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "colab" in code[0].metadata.get("tags", []), "first cell must install the library"
    assert "%pip install" in code[0].source
    tagged = [set(c.metadata.get("tags", [])) & FRAMEWORK_TAGS for c in code[1:]]
    assert all(len(t) == 1 for t in tagged), "every other code cell is pytorch or tensorflow"
    fws = [t.pop() for t in tagged]
    assert fws == ["pytorch", "tensorflow"] * (len(fws) // 2), "a PyTorch cell, then its twin"
    cells = nb.cells
    for i, cell in enumerate(cells):
        if "pytorch" in cell.metadata.get("tags", []):
            assert "tensorflow" in cells[i + 1].metadata.get("tags", []), \
                f"cell {i}: the TensorFlow twin must follow directly"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_stored_notebook_is_executed_and_clean(page):
    raw = page.with_suffix(".ipynb").read_text()
    nb = nbformat.reads(raw, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert any(c.outputs for c in code), "notebook stores no outputs: run tools/notebooks.py"
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), \
        "not one top-to-bottom run in a fresh kernel (nbval needs the execution counts)"
    for c in code:
        assert not any(o.output_type == "error" for o in c.outputs)
        assert "execution" not in c.metadata, "execution timestamps stored"
        for o in c.outputs:
            assert o.get("name") != "stderr" or "I0000" not in o.get("text", ""), \
                "TensorFlow C++ log lines in the outputs"
    for private in ("/work/", "/root/", "/home/", "/tmp/", "/Users/"):
        assert private not in raw, f"machine path {private} stored in {page.name}"


def test_figures_are_current():
    from d2l_resnet import figures

    assert figures.check_all(ROOT / "book" / "img") == []


def _bib_keys():
    return set(re.findall(r"@\w+\{([^,\s]+),", (ROOT / "book" / "references.bib").read_text()))


@pytest.mark.parametrize("page", sorted((ROOT / "book").glob("*/*.md")), ids=page_id)
def test_citations_figures_and_labels_resolve(page):
    text = page.read_text()
    keys = {k.strip() for group in re.findall(r"\{foot(?:cite|cite:[pt])\}`([^`]+)`", text)
            for k in group.split(",")}
    assert keys <= _bib_keys(), f"unknown citation keys {keys - _bib_keys()}"
    if keys:
        assert "```{footbibliography}```" in text or "{footbibliography}" in text
    for src in re.findall(r":::\{figure\} (\S+)", text):
        assert (page.parent / src).is_file(), f"missing figure {src}"
    labels = set(re.findall(r"^\(([\w-]+)\)=$", text, re.M))
    labels |= set(re.findall(r"^:name: ([\w-]+)$", text, re.M))
    labels |= set(re.findall(r"^\$\$ \(([\w-]+)\)$", text, re.M))
    lang_labels = set()
    for other in page.parent.glob("*.md"):
        t = other.read_text()
        lang_labels |= set(re.findall(r"^\(([\w-]+)\)=$", t, re.M))
        lang_labels |= set(re.findall(r"^:name: ([\w-]+)$", t, re.M))
    for role, target in re.findall(r"\{(numref|ref|eq)\}`(?:[^`<]*<)?([\w-]+)>?`", text):
        pool = labels if role == "eq" else lang_labels
        assert target in pool, f"{{{role}}}`{target}` does not resolve"


def test_toc_lists_existing_pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for e in entries:
            files.append(e["file"])
            walk(e.get("sections", []))

    for part in toc["parts"]:
        walk(part["chapters"])
    for f in files:
        assert any((ROOT / f).with_suffix(s).is_file() for s in (".md", ".ipynb")), f
    assert {f"book/{p.parent.name}/{p.stem}" for p in PAGES} <= set(files)


def test_paired_md_files_are_excluded_from_the_build():
    """Sphinx must see one source per page (the .ipynb), else it warns 'multiple files'."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    excluded = set(config["exclude_patterns"])
    for page in PAGES:
        assert f"book/*/{page.name}" in excluded


def test_notebook_kernels_are_plain_python3():
    for page in PAGES:
        nb = json.loads(page.with_suffix(".ipynb").read_text())
        assert nb["metadata"]["kernelspec"]["name"] == "python3"
