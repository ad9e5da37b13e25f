"""The built site, read as files: one native site per edition.

Each edition's pages declare its language, number figures from 1 with the word of the
language, show no English interface strings (PT, FR), keep a search index of their
own, and link to their other editions with hreflang links that resolve.

Needs the built book (``python tools/build_book.py``); skipped without it except on CI.
"""

import json
import os
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from d2l_resnet.registry import LANGUAGES

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
sys.path.insert(0, str(ROOT / "tools"))
import build_book

EDITIONS = {code: lang.tag for code, lang in LANGUAGES.items()}
FIGURE_WORD = {"en": "Fig.", "pt": "Figura", "fr": "Figure"}
SITE = build_book.edition_config("en")["sphinx"]["config"]["book_site_url"]

if not (HTML / "index.html").exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI needs the built book: run the README's install command")
    pytest.skip("needs the built book in _build/html", allow_module_level=True)

PAGES = {lang: sorted(p for p in (HTML / lang).glob("*.html")) for lang in EDITIONS}

# English interface strings of Sphinx, the PyData theme and the book theme, as they
# appear around the content (attributes included).
ENGLISH_UI = ["Contents", "Search this book", "Skip to main content", "On this page",
              "Back to top", "previous page", "next page", "Toggle primary sidebar",
              "Toggle secondary sidebar", "Site navigation", "Color mode", "System Settings",
              "Launch interactive content", "Launch on", "Open issue", "Repository",
              "Source repositories", "Download this page", "Print to PDF", "Fullscreen mode",
              "Version warning", "By The", "Search Results", "Please activate JavaScript",
              'aria-label="Main"', 'aria-label="Language"']


class Chrome(HTMLParser):
    """Text and labels outside <article> (the page's own content)."""

    LABELS = ("title", "aria-label", "placeholder", "alt", "data-bs-title")

    def __init__(self):
        super().__init__()
        self.depth, self.parts = 0, []

    def handle_starttag(self, tag, attrs):
        if tag in ("article", "script", "style"):
            self.depth += 1
        if not self.depth:
            attrs = dict(attrs)
            self.parts += [f'{k}="{attrs[k]}"' for k in self.LABELS if attrs.get(k)]

    def handle_endtag(self, tag):
        if tag in ("article", "script", "style"):
            self.depth -= 1

    def handle_data(self, data):
        if not self.depth and data.strip():
            self.parts.append(data.strip())


def chrome(path: Path) -> str:
    parser = Chrome()
    parser.feed(path.read_text())
    return "\n".join(parser.parts)


@pytest.mark.parametrize("lang", EDITIONS)
def test_every_page_declares_its_language(lang):
    assert PAGES[lang]
    for page in PAGES[lang]:
        found = re.search(r"<html[^>]*\blang=\"([^\"]+)\"", page.read_text())
        assert found and found.group(1) == EDITIONS[lang], page.name


@pytest.mark.parametrize("lang", EDITIONS)
def test_figures_are_numbered_from_one_in_each_edition(lang):
    captions = re.findall(r'<span class="caption-number">([^<]*)</span>',
                          (HTML / lang / "function-classes.html").read_text())
    assert captions[0].strip() == f"{FIGURE_WORD[lang]} 1"
    numbers = []
    for name in ("function-classes", "residual-blocks", "resnet-model", "resnext"):
        text = (HTML / lang / f"{name}.html").read_text()
        numbers += re.findall(r'<span class="caption-number">' + re.escape(FIGURE_WORD[lang])
                              + r" (\d+) ", text)
    assert [int(n) for n in numbers] == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize("lang", ["pt", "fr"])
def test_no_english_interface_strings(lang):
    found = {}
    for page in PAGES[lang]:
        text = chrome(page)
        hits = [s for s in ENGLISH_UI if s in text]
        if hits:
            found[page.name] = hits
    assert found == {}


def test_english_interface_check_catches_english():
    """The check itself: the English edition does show these strings."""
    text = chrome(HTML / "en" / "residual-blocks.html")
    assert sum(s in text for s in ENGLISH_UI) >= 10


@pytest.mark.parametrize("lang", EDITIONS)
def test_search_index_holds_only_its_edition(lang):
    text = (HTML / lang / "searchindex.js").read_text()
    index = json.loads(text[text.index("(") + 1:text.rindex(")")])
    assert sorted(f"{d}.html" for d in index["docnames"]) == sorted(
        p.name for p in PAGES[lang] if p.name not in ("genindex.html", "search.html"))
    options = (HTML / lang / "_static" / "documentation_options.js").read_text()
    assert f"LANGUAGE: '{EDITIONS[lang]}'" in options
    stemmer = {"en": "porter", "pt": "portuguese", "fr": "french"}[lang]
    language_js = (HTML / lang / "_static" / "language_data.js").read_text().lower()
    assert stemmer in language_js, "the edition's search uses its stemmer"
    if lang == "fr":  # French stemming: 'résiduels' and 'résiduel' share one term
        assert "résiduel" in index["terms"] and "résiduels" not in index["terms"]


@pytest.mark.parametrize("lang", EDITIONS)
def test_hreflang_links_resolve_to_existing_pages(lang):
    for page in PAGES[lang]:
        if page.name in ("genindex.html", "search.html"):
            continue
        links = dict(re.findall(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)"',
                                page.read_text()))
        assert set(links) == set(EDITIONS.values()) | {"x-default"}, page.name
        assert links[EDITIONS[lang]] == f"{SITE}{lang}/{page.name}"
        for url in links.values():
            assert url.startswith(SITE)
            assert (HTML / url[len(SITE):]).is_file(), url


def test_landing_page_and_its_alternates():
    text = (HTML / "index.html").read_text()
    for lang in EDITIONS:
        assert f'href="{lang}/index.html"' in text
    for url in re.findall(r'hreflang="[^"]+" href="([^"]+)"', text):
        assert url.startswith(SITE) and (HTML / (url[len(SITE):] or "index.html")).is_file()
