"""The PDF editions (tools/build_pdf.py), one per edition and framework, read as a
reader's PDF viewer reads them (pypdfium2: PDFium, Chromium's own PDF engine): a
title page, bookmarks for every page of the table of contents, a table of contents
with the right page numbers, localized page headers and footers, the code of the
PDF's framework and of no other, and code lines wrapped at the page edge, not cut.

Needs the PDFs (``python tools/build_book.py && python tools/build_pdf.py``); skipped
without them except on CI. Reads the PDFs only: about a second for all nine.
"""

import functools
import html
import json
import os
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
sys.path.insert(0, str(ROOT / "tools"))
import build_book
import build_pdf

EDITIONS = build_book.EDITIONS
FRAMEWORKS = build_pdf.FRAMEWORKS  # tag -> label
CASES = [(lang, fw) for lang in EDITIONS for fw in FRAMEWORKS]

missing = [build_pdf.pdf_path(lang, fw) for lang, fw in CASES
           if not build_pdf.pdf_path(lang, fw).is_file()]
if missing:
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI needs the PDFs ({missing[0].relative_to(ROOT)} is missing): "
                           "run python tools/build_pdf.py after tools/build_book.py")
    pytest.skip("needs the PDFs: python tools/build_pdf.py", allow_module_level=True)

import pypdfium2 as pdfium

# Written out here, not taken from build_pdf: the footer each edition must show.
FOOTER = {"en": "Page {} of {}", "pt": "Página {} de {}", "fr": "Page {} sur {}"}
CONTENTS = {"en": "Contents", "pt": "Sumário", "fr": "Table des matières"}
# What a code line may import: the framework's own packages, and of the book's
# library only its framework's subpackage or the framework-neutral modules.
OWN_MODULES = {"pytorch": {"torch"}, "tensorflow": {"tensorflow", "keras"},
               "jax": {"jax", "flax", "optax"}}
LIBRARY_PART = {"pytorch": "torch", "tensorflow": "tensorflow", "jax": "jax"}
FRAMEWORK_MODULES = set().union(*OWN_MODULES.values())
LIBRARY_PARTS = set(LIBRARY_PART.values())
# A printed code line holds about 99 characters (8.2 pt DejaVu Sans Mono, A4, 16 mm
# margins): longer source lines must wrap.
MM = 72 / 25.4  # PDF points per millimetre


def squeeze(text: str) -> str:
    """Text without its whitespace: a wrapped line and the line it came from agree."""
    return re.sub(r"\s+", "", text)


def one_line(text: str) -> str:
    return " ".join(text.split())


@functools.cache
def read(lang: str, fw: str) -> dict:
    """The PDF's pages' text, its bookmarks and the text in its right margins."""
    pdf = pdfium.PdfDocument(str(build_pdf.pdf_path(lang, fw)))
    try:
        pages, margins = [], []
        for page in pdf:
            width, height = page.get_size()
            text = page.get_textpage()
            pages.append(text.get_text_bounded())
            # The right margin is 16 mm: no text in its outer 14 mm (MathJax's stretched
            # glyphs, in the private use area, have boxes as wide as the page: ignored).
            margin = text.get_text_bounded(left=width - 14 * MM, bottom=0, right=width,
                                           top=height)
            margins.append(re.sub(r"[\s\ue000-\uf8ff]", "", margin))
            text.close()
            page.close()
        bookmarks = [(b.level, one_line(b.get_title()), b.get_dest().get_index() + 1)
                     for b in pdf.get_toc()]
    finally:
        pdf.close()
    return {"pages": pages, "margins": margins, "bookmarks": bookmarks,
            "text": "\n".join(pages)}


def toc_titles(lang: str) -> list[str]:
    """The title of every page of _toc.yml, as the edition's built page shows it."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for c in toc["chapters"]]
    titles = []
    for name in files:
        page = (HTML / lang / f"{name}.html").read_text()
        found = [h for h in re.findall(r"<h1>(.*?)</h1>", page, re.S) if "headerlink" in h]
        assert found, f"{lang}/{name}.html: no title"
        title = re.sub(r"<a class=\"headerlink\".*?</a>|<[^>]+>", "", found[0])
        titles.append(one_line(html.unescape(title)))
    return titles


@functools.cache
def code_lines(lang: str, fw: str) -> list[str]:
    """The source lines of the edition's code cells tagged with the framework."""
    lines = []
    for nb in sorted((ROOT / "book" / lang).glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] == "code" and fw in cell["metadata"].get("tags", []):
                lines += "".join(cell["source"]).splitlines()
    return lines


def imports(lines) -> set[str]:
    """The import statements among the lines, without their comments."""
    return {line.split("#")[0].strip() for line in lines
            if re.match(r"\s*(import|from)\s+\w", line)}


def edition(lang: str) -> dict:
    return build_book.edition_config(lang)


@pytest.mark.parametrize(("lang", "fw"), CASES)
def test_title_page_names_the_edition_its_author_and_framework(lang, fw):
    first = one_line(read(lang, fw)["pages"][0])
    assert one_line(edition(lang)["title"]) in first
    assert edition(lang)["author"] in first
    assert FRAMEWORKS[fw] in first


@pytest.mark.parametrize(("lang", "fw"), CASES)
def test_every_page_has_the_localized_header_and_page_number(lang, fw):
    pages = read(lang, fw)["pages"]
    title = one_line(edition(lang)["title"])
    for number, text in enumerate(pages, 1):
        lines = [one_line(line) for line in text.splitlines()]
        assert FOOTER[lang].format(number, len(pages)) in lines, f"page {number}"
        assert any(line.startswith(title) for line in lines), f"page {number}: no header"


@pytest.mark.parametrize(("lang", "fw"), CASES)
def test_bookmarks_for_every_page_of_the_table_of_contents(lang, fw):
    bookmarks = read(lang, fw)["bookmarks"]
    top = [(title, page) for level, title, page in bookmarks if level == 0]
    assert [t for t, _ in top] == [CONTENTS[lang], *toc_titles(lang)]
    pages = [p for _, p in top]
    assert pages == sorted(pages) and len(set(pages)) == len(pages), \
        "each chapter starts on a page of its own, in order"
    for title, page in top:  # a bookmark leads to its page
        assert title in one_line(read(lang, fw)["pages"][page - 1]), title
    assert any(level == 1 for level, _, _ in bookmarks), "sections are bookmarked too"


@pytest.mark.parametrize(("lang", "fw"), CASES)
def test_table_of_contents_gives_the_bookmarks_pages(lang, fw):
    data = read(lang, fw)
    contents = next(p for _, t, p in data["bookmarks"] if t == CONTENTS[lang])
    first_chapter = min(p for level, t, p in data["bookmarks"]
                        if level == 0 and t != CONTENTS[lang])
    toc = [one_line(line) for page in data["pages"][contents - 1:first_chapter - 1]
           for line in page.splitlines()]
    for level, title, page in data["bookmarks"]:
        if level == 0 and title != CONTENTS[lang]:
            assert f"{title} {page}" in toc, f"{title!r} not listed at page {page}"


@pytest.mark.parametrize(("lang", "fw"), CASES)
def test_the_code_is_its_frameworks_only(lang, fw):
    """Every import line of the framework's cells is printed, and none that only
    another framework's cells have: the other tabs are not printed."""
    text = squeeze(read(lang, fw)["text"])
    own = imports(code_lines(lang, fw))
    assert own, "the framework's cells import something"
    for line in own:
        assert squeeze(line) in text, f"missing: {line}"
    others = set().union(*(imports(code_lines(lang, o)) for o in FRAMEWORKS if o != fw))
    for line in others - own:
        assert squeeze(line) not in text, f"another framework's code printed: {line}"


@pytest.mark.parametrize(("lang", "fw"), CASES)
def test_no_line_imports_another_framework(lang, fw):
    """Whatever the sources hold: no printed line imports another framework's packages
    or the library's subpackage of another framework."""
    wrong = []
    for line in read(lang, fw)["text"].splitlines():
        found = re.match(r"\s*(?:from\s+([\w.]+)\s+import\s+(\w+)|import\s+([\w.]+))", line)
        if not found:
            continue
        module = found.group(1) or found.group(3)
        root = module.split(".")[0]
        if root in FRAMEWORK_MODULES and root not in OWN_MODULES[fw]:
            wrong.append(line)
        part = (module.split(".")[1] if module.startswith("d2l_resnet.")
                else found.group(2) if module == "d2l_resnet" else None)
        if part in LIBRARY_PARTS and part != LIBRARY_PART[fw]:
            wrong.append(line)
    assert wrong == []


@pytest.mark.parametrize("lang", EDITIONS)
def test_code_lines_print_whole_on_one_line(lang):
    """Code is formatted to pyproject's line length (79, tests/test_book.py), which a
    printed code line holds (about 99 characters of the 8 pt code font on A4): every
    source line is printed whole, on one line, neither cut at the code box nor
    wrapped, and nothing runs on into the pages' right margins. print.css still wraps
    a longer line (an output, say) rather than cut it."""
    checked = 0
    for fw in FRAMEWORKS:
        data = read(lang, fw)
        printed = {one_line(line) for line in data["text"].splitlines()}
        for line in code_lines(lang, fw):
            if len(line.strip()) >= 60:
                assert any(one_line(line) in p for p in printed), \
                    f"{fw}: not printed whole on one line: {line}"
                checked += 1
        overflow = [(i + 1, m) for i, m in enumerate(data["margins"]) if m]
        assert overflow == [], f"{fw}: text in the right margin: {overflow[:3]}"
    assert checked > 100, f"only {checked} long code lines in the {lang} edition"


@pytest.mark.parametrize("lang", EDITIONS)
def test_landing_page_links_every_pdf(lang):
    page = (HTML / lang / "index.html").read_text()
    links = re.findall(r'href="(pdf/[^"]+\.pdf)"', page)
    assert links == [f"pdf/resnet-book-{lang}-{fw}.pdf" for fw in FRAMEWORKS]
    for link in links:
        assert (HTML / lang / link).is_file(), link
