"""The book's sources: pairs in sync, library code shown verbatim, links that resolve,
clean stored notebooks, current figures."""

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from d2l_resnet.registry import FRAMEWORKS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import notebooks

PAGES = notebooks.paired_pages()
LANGS = sorted({p.parent.name for p in PAGES})
FRAMEWORK_TAGS = tuple(FRAMEWORKS)  # the order of the tabs


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
    assert {(fw, name) for fw in ("pytorch", "tensorflow", "jax")
            for name in ("BasicBlock", "Bottleneck", "ResNet")} <= shown


def test_library_and_page_cells_are_formatted(capsys):
    """``python tools/notebooks.py format`` (ruff format at pyproject's line
    length, trailing comments of long lines hoisted) has nothing to change in the
    library or in a page's code cells."""
    assert notebooks.format_code(check=True) == 0, capsys.readouterr().out


def test_hoisting_keeps_a_statement_whole():
    code = "x = compute(alpha, beta)  # a reason that makes the line too long\n"
    assert notebooks.hoist_comments(code, 40) == (
        "# a reason that makes the line too long\nx = compute(alpha, beta)\n")
    assert notebooks.hoist_comments(code, 79) == code  # short enough: left alone
    long = "    # one comment line that is longer than the limit\n"
    assert notebooks.hoist_comments(long, 40) == (
        "    # one comment line that is longer\n    # than the limit\n")
    block = "# a first line that is far too long for it\n# and a second\n#\n# next\n"
    assert notebooks.hoist_comments(block, 30) == (
        "# a first line that is far too\n# long for it and a second\n#\n# next\n")
    pragma = "x = compute(alpha, beta)  # type: ignore[arg-type]\n"
    assert notebooks.hoist_comments(pragma, 40) == pragma


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_code_lines_fit_the_page(page):
    """Every code line a page shows, library listings included, is at most
    pyproject's line length (79: the code block's width, tests/test_browser.py)."""
    limit = notebooks.line_length()
    long = [f"{len(line)} columns: {line.strip()[:60]}"
            for m in notebooks.CELL.finditer(page.read_text())
            for line in m.group(3).splitlines() if len(line) > limit]
    assert long == [], f"{len(long)} code lines longer than {limit}: wrap them ({long[:3]})"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_code_cells_come_in_framework_runs(page):
    """Every example is one run of cells, one per framework, always in the same order:
    _ext/framework_tabs.py turns each run into one set of synchronized tabs."""
    nb = nbformat.read(page.with_suffix(".ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    # The first cell sets the edition's language; installing the library is the job of
    # the derived Colab notebooks' install cell (_ext/colab_notebooks.py), which names
    # the repository from _config.yml: the source notebooks do not name it.
    assert "language" in code[0].metadata.get("tags", []), "first cell must set the language"
    assert f'set_language("{page.parent.name}")' in code[0].source
    assert "%pip" not in code[0].source and "github.com" not in code[0].source
    tagged = [set(c.metadata.get("tags", [])) & set(FRAMEWORK_TAGS) for c in code[1:]]
    assert all(len(t) == 1 for t in tagged), "every other code cell has one framework tag"
    used = [fw for fw in FRAMEWORK_TAGS if any(fw in t for t in tagged)]
    assert used[:2] == ["pytorch", "tensorflow"]
    runs, run = [], []
    for cell in nb.cells[1:]:
        fw = set(cell.metadata.get("tags", [])) & set(FRAMEWORK_TAGS)
        if cell.cell_type == "code" and fw:
            run.append(fw.pop())
        elif run:
            runs.append(run)
            run = []
    runs += [run] if run else []
    assert all(r == used for r in runs), f"each example must come as {used}: {runs}"


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
    import figures  # tools/figures.py

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


def test_toc_lists_existing_pages_in_every_edition():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [entry["file"] for entry in toc["chapters"]]
    for lang in LANGS:
        for f in files:
            assert any((ROOT / "book" / lang / f).with_suffix(s).is_file()
                       for s in (".md", ".ipynb")), f"book/{lang}/{f}"
        assert {p.stem for p in PAGES if p.parent.name == lang} <= set(files)


def test_paired_md_files_are_excluded_from_the_build():
    """Sphinx must see one source per page (the .ipynb), else it warns 'multiple files'."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    excluded = set(config["exclude_patterns"])
    for page in PAGES:
        assert page.name in excluded


@pytest.mark.parametrize("lang", LANGS)
def test_each_edition_is_its_own_site(lang):
    """tools/build_book.py merges the shared config with the edition's own."""
    import build_book

    config = build_book.edition_config(lang)
    sphinx = config["sphinx"]["config"]
    assert sphinx["language"] == {"en": "en", "pt": "pt_BR", "fr": "fr"}[lang]
    assert config["repository"]["path_to_book"] == f"book/{lang}"  # Colab opens this edition
    assert sphinx["numfig_format"]["figure"].split()[0] == {
        "en": "Fig.", "pt": "Figura", "fr": "Figure"}[lang]
    assert config["execute"]["execute_notebooks"] == "off"  # shared settings are kept
    titles = {build_book.edition_config(code)["title"] for code in LANGS}
    assert len(titles) == len(LANGS), "each edition has a title in its language"


def test_config_merge_is_deep():
    import build_book

    merged = build_book.merge({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"c": 3}, "d": [2]})
    assert merged == {"a": {"b": 1, "c": 3}, "d": [2]}


def test_notebook_kernels_are_plain_python3():
    for page in PAGES:
        nb = json.loads(page.with_suffix(".ipynb").read_text())
        assert nb["metadata"]["kernelspec"]["name"] == "python3"


# The pages that teach one step of the story; each closes with a box of what to
# remember (degradation.md has its own Summary section, summary.md is one).
REMEMBER_PAGES = ("function-classes", "residual-blocks", "resnet-model", "training",
                  "resnext")


@pytest.mark.parametrize("lang", ["en", "pt", "fr"])
@pytest.mark.parametrize("name", REMEMBER_PAGES)
def test_each_lesson_ends_with_what_to_remember(lang, name):
    """One "what to remember" box per lesson, a short list, right before the
    page's references."""
    text = (ROOT / "book" / lang / f"{name}.md").read_text()
    boxes = re.findall(r"^:::\{admonition\} ([^\n]+)\n:class: tip remember\n\n(.*?)\n:::$",
                       text, re.M | re.S)
    assert len(boxes) == 1, f"{lang}/{name}: {len(boxes)} remember boxes"
    title, body = boxes[0]
    assert title == {"en": "What to remember", "pt": "O que guardar", "fr": "À retenir"}[lang]
    items = re.findall(r"^- ", body, re.M)
    assert 3 <= len(items) <= 4, f"{lang}/{name}: {len(items)} items"
    after = text.split(":class: tip remember", 1)[1].split("\n:::\n", 1)[1]
    assert re.match(r"\s*\(sec-[\w-]+-references\)=", after), "the box is not the last thing"
