"""The derived notebooks (_ext/colab_notebooks.py): one per edition, framework and page,
written by the HTML build into _build/html/<lang>/_notebooks/<framework>/<page>.ipynb.

What a reader who opens one in Colab or JupyterLab needs: plain Markdown (no MyST
syntax, no image path that exists only in the repository), the cells of one framework
with the outputs nbval validated in the source notebook, links that lead to the
published pages, and an install cell first.

Needs the built book (``python tools/build_book.py``); skipped without it except on CI.
"""

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "_ext"))
from framework_tabs import FRAMEWORKS

import build_book

CONFIG = build_book.edition_config("en")
SITE = CONFIG["sphinx"]["config"]["book_site_url"].rstrip("/") + "/"
REPO = CONFIG["repository"]["url"].rstrip("/")
BRANCH = CONFIG["repository"].get("branch", "main")
EDITIONS = build_book.EDITIONS

if not (HTML / "index.html").exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI needs the built book: run the README's install command")
    pytest.skip("needs the built book in _build/html", allow_module_level=True)

SOURCES = sorted(p for lang in EDITIONS for p in (ROOT / "book" / lang).glob("*.ipynb"))
CASES = [(src, fw) for src in SOURCES for fw in FRAMEWORKS]


def case_id(case):
    src, fw = case
    return f"{src.parent.name}/{fw}/{src.stem}"


def derived(src: Path, fw: str) -> Path:
    return HTML / src.parent.name / "_notebooks" / fw / f"{src.stem}.ipynb"


@pytest.fixture(params=CASES, ids=[case_id(c) for c in CASES])
def case(request):
    src, fw = request.param
    path = derived(src, fw)
    assert path.is_file(), f"no derived notebook {path.relative_to(ROOT)}"
    return src, fw, nbformat.read(path, as_version=4)


# MyST that Colab would show as raw text: roles, directives, colon fences, labels.
MYST = re.compile(r"\{[a-z]+(?::[a-z]+)*\}`|^```\{|^:::|^\([\w-]+\)=$", re.M)
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
LINK = re.compile(r"(?<!!)\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)\)")
IMPORTS = {
    "pytorch": re.compile(r"^\s*(?:import torch|from torch\b)|d2l_resnet\.torch|"
                          r"from d2l_resnet import torch", re.M),
    "tensorflow": re.compile(r"^\s*(?:import tensorflow|from tensorflow\b|import keras|"
                             r"from keras\b)|d2l_resnet\.tensorflow|"
                             r"from d2l_resnet import tensorflow", re.M),
    "jax": re.compile(r"^\s*(?:import (?:jax|flax|optax)|from (?:jax|flax|optax)\b)|"
                      r"d2l_resnet\.jax|from d2l_resnet import jax", re.M),
}


def framework_cells(nb, fw):
    return [c for c in nb.cells if c.cell_type == "code"
            and fw in c.metadata.get("tags", [])]


def test_every_page_and_framework_has_a_notebook():
    written = {p.relative_to(HTML).as_posix() for p in HTML.glob("*/_notebooks/*/*.ipynb")}
    expected = {derived(src, fw).relative_to(HTML).as_posix() for src, fw in CASES}
    assert SOURCES and written == expected


def test_install_cell_comes_first(case):
    src, fw, nb = case
    first = nb.cells[0]
    assert first.cell_type == "code" and "install" in first.metadata["tags"]
    assert f'%pip install -q "d2l-resnet @ git+{REPO}@{BRANCH}"' in first.source
    assert f'd2l_resnet.set_language("{src.parent.name}")' in first.source
    # The frameworks Colab ships are left alone: the library's own dependencies only.
    assert not re.search(r"pip install[^\n]*\b(torch|tensorflow|jax)\b", first.source)
    preallocate = 'os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")'
    assert (preallocate in first.source) == (fw == "jax")
    if fw == "jax":
        assert first.source.index(preallocate) < first.source.index("import d2l_resnet")
    assert all(len(line) <= 80 for line in first.source.splitlines())


def test_header_names_the_book_and_links_back(case):
    src, fw, nb = case
    lang, page = src.parent.name, src.stem
    header = nb.cells[1]
    assert header.cell_type == "markdown" and header.source.startswith("# ")
    title = build_book.edition_config(lang)["title"]
    assert title.split(":")[0] in header.source
    assert FRAMEWORKS[fw] in header.source
    assert f"({SITE}{lang}/{page}.html)" in header.source


def test_markdown_is_plain(case):
    src, fw, nb = case
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        assert not MYST.search(cell.source), MYST.search(cell.source).group(0)
        assert "{footcite" not in cell.source and "{eq}" not in cell.source
        for url in IMAGE.findall(cell.source):
            assert url.startswith(SITE), f"image not at the published site: {url}"


def test_only_its_frameworks_cells_with_the_stored_outputs(case):
    src, fw, nb = case
    source = nbformat.read(src, as_version=4)
    code = [c for c in nb.cells[1:] if c.cell_type == "code"]
    expected = framework_cells(source, fw)
    assert [c.source for c in code] == [c.source for c in expected]
    for got, want in zip(code, expected):
        assert got.metadata.get("tags") == want.metadata.get("tags")
        strip = [{k: v for k, v in o.items() if k != "execution_count"} for o in got.outputs]
        assert strip == [{k: v for k, v in o.items() if k != "execution_count"}
                         for o in want.outputs]
    # Numbered as one run of this notebook: 1, 2, 3, ... after the install cell.
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    for other, imports in IMPORTS.items():
        if other != fw:
            assert not any(imports.search(c.source) for c in nb.cells
                           if c.cell_type == "code"), f"{other} code in the {fw} notebook"


class Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(v for k, v in attrs if k == "id")


_ids = {}


def ids_of(page: Path) -> set:
    if page not in _ids:
        parser = Ids()
        parser.feed(page.read_text())
        _ids[page] = parser.ids
    return _ids[page]


def test_every_name_a_notebook_uses_is_defined_in_it():
    """A notebook holds one framework's cells, so a name that the page imports only in
    another framework's cell (the resnet-model page's TensorFlow ResNet once used the
    PyTorch cell's check_arch) is a NameError in Colab. ruff reads the notebooks."""
    notebooks = [str(derived(src, fw)) for src, fw in CASES]
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--select",
         "F821", "--output-format", "concise", *notebooks],
        capture_output=True, text=True)
    assert ruff.returncode == 0, f"undefined names:\n{ruff.stdout}"


def test_links_lead_to_pages_and_anchors_of_the_site(case):
    src, fw, nb = case
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    links = LINK.findall(text) + IMAGE.findall(text)
    internal = [u for u in links if u.startswith(SITE)]
    assert internal, "a page links at least back to itself"
    for url in links:
        assert urlparse(url).scheme in ("http", "https"), f"relative link {url}"
    for url in internal:
        path, _, anchor = url[len(SITE):].partition("#")
        target = HTML / path
        assert target.is_file(), f"{url}: no {target.relative_to(ROOT)} in the built site"
        if anchor:
            assert anchor in ids_of(target), f"{url}: no id {anchor!r} on that page"


def test_citations_are_author_year_with_the_reference_list():
    nb = nbformat.read(HTML / "pt" / "_notebooks" / "pytorch" / "resnext.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "(Szegedy *et al.*, 2015)" in text  # {footcite:p}
    assert "Xie *et al.* (2017)" in text  # {footcite:t}: the year only
    assert "## Referências" in text
    refs = text[text.index("## Referências"):]
    assert "Aggregated residual transformations" in refs
    # Equation numbers as on the site (numbered across the edition) and \tag{n}.
    page = (HTML / "pt" / "resnext.html").read_text()
    numbers = re.findall(r'<span class="eqno">\((\d+)\)', page)
    tags = re.findall(r"\\tag\{(\d+)\}", text)
    assert tags == numbers and tags


def test_figures_carry_their_number_and_caption():
    nb = nbformat.read(HTML / "fr" / "_notebooks" / "jax" / "resnext.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    page = (HTML / "fr" / "resnext.html").read_text()
    number = re.search(r'<span class="caption-number">Figure (\d+)', page).group(1)
    assert f"**Figure {number}**" in text
    image = re.escape(f"{SITE}fr/_images/resnext-block.svg")
    assert re.search(rf"!\[Figure {number} [^\]]+\]\({image}\)", text)


def test_buttons_offer_every_framework_without_javascript():
    """The static page lists one Colab and one download entry per framework; the
    script then shows the reader's only (tests/test_browser.py)."""
    page = (HTML / "en" / "training.html").read_text()
    for fw in FRAMEWORKS:
        colab = (f"https://colab.research.google.com/github/{urlparse(REPO).path.strip('/')}"
                 f"/blob/{CONFIG['sphinx']['config']['book_notebooks_branch']}/en/{fw}/"
                 "training.ipynb")
        assert f'href="{colab}"' in page and f"btn-colab-{fw}" in page
        assert f'href="_notebooks/{fw}/training.ipynb"' in page
    assert "blob/main/book/en/training.ipynb" not in page  # the MyST source notebook


def test_notebooks_branch_holds_what_the_colab_links_open(tmp_path):
    import notebooks_branch

    written = notebooks_branch.lay_out(tmp_path / "branch")
    held = {p.relative_to(tmp_path / "branch").as_posix() for p in written}
    branch = notebooks_branch.branch_name()
    opened = set()
    for lang in EDITIONS:
        for page in (HTML / lang).glob("*.html"):
            opened.update(re.findall(rf'href="https://colab\.research\.google\.com/github/'
                                     rf'[^"]+/blob/{branch}/([^"]+)"', page.read_text()))
    assert opened and opened == held
    workflow = (ROOT / ".github" / "workflows" / "pages.yml").read_text()
    assert "tools/notebooks_branch.py" in workflow and 'HEAD:${branch}' in workflow
