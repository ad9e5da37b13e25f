"""Prints the book to PDF: one file per edition and framework (3 x 3 by default).

    python tools/build_pdf.py                                  every edition and framework
    python tools/build_pdf.py --lang fr --framework jax        one PDF
    python tools/build_pdf.py --skip-singlehtml                reuse the singlehtml pages

Run it after tools/build_book.py, which replaces _build/html/<lang>/ and so removes the
PDFs. For each edition (the three side by side, --jobs) it builds Sphinx's singlehtml
output with build_book's config and --path-output, so that Sphinx reuses the HTML
build's environment and doctrees (no page is read again), serves it on 127.0.0.1
(MathJax and its fonts load over http), waits for MathJax, and prints the page once
per framework with chromium (Debian's, else Google Chrome) through Playwright's
page.pdf: a tagged PDF whose outline (bookmarks) is its headings, the edition's title
in the page header and localized page numbers in the footer. _static/print.css,
injected here and linked by no page of the site, hides the other frameworks' tabs,
the tab labels and the site's navigation and buttons, and wraps code at the page
edge. The script adds a title page (title, author, framework) and a table of
contents; each PDF is printed twice, the first print's outline giving the table's
page numbers. The PDFs are published with the site, linked from each edition's
landing page (book/<lang>/index.md):

    _build/html/<lang>/pdf/resnet-book-<lang>-<framework>.pdf
"""

from __future__ import annotations

import argparse
import functools
import html
import http.server
import io
import logging
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_book

ROOT = build_book.ROOT
BUILD = build_book.BUILD
EDITIONS = build_book.EDITIONS
PRINT_CSS = ROOT / "_static" / "print.css"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]

sys.path.insert(0, str(ROOT / "_ext"))
from framework_tabs import FRAMEWORKS

# The words the PDF adds around the book's own text, in the edition's language.
WORDS = {
    "en": {"contents": "Contents", "page": "Page {page} of {total}",
           "framework": "With code in {framework}", "online": "Online edition: {url}"},
    "pt": {"contents": "Sumário", "page": "Página {page} de {total}",
           "framework": "Com código em {framework}", "online": "Versão on-line: {url}"},
    "fr": {"contents": "Table des matières", "page": "Page {page} sur {total}",
           "framework": "Avec le code en {framework}",
           "online": "Version en ligne\u00a0: {url}"},
}


def pdf_path(lang: str, framework: str) -> Path:
    return BUILD / "html" / lang / "pdf" / f"resnet-book-{lang}-{framework}.pdf"


def singlehtml_dir(lang: str) -> Path:
    return BUILD / "editions" / lang / "_build" / "singlehtml"


def singlehtml_command(lang: str) -> list[str]:
    """build_book's command for the edition, with the singlehtml builder. The config
    file is the one build_book writes (rewritten only if it differs) and the output
    path the same, so Sphinx finds the HTML build's pickled environment and doctrees."""
    config = BUILD / "config" / f"{lang}.yml"
    text = yaml.safe_dump(build_book.edition_config(lang), allow_unicode=True,
                          sort_keys=False)
    if not config.exists() or config.read_text() != text:
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(text)
    return ["jupyter-book", "build", str(ROOT / "book" / lang), "--config", str(config),
            "--toc", str(ROOT / "_toc.yml"), "--path-output",
            str(BUILD / "editions" / lang), "-W", "-n", "--keep-going",
            "--builder", "singlehtml"]


def build_singlehtml(lang: str) -> None:
    """The edition's singlehtml build; its log goes to _build/editions/."""
    start = time.perf_counter()
    log = BUILD / "editions" / f"singlehtml-{lang}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        code = subprocess.call(singlehtml_command(lang), cwd=ROOT, stdout=out,
                               stderr=subprocess.STDOUT)
    text = log.read_text()
    reused = "0 added, 0 changed, 0 removed" in text
    print(f"== {lang}: singlehtml built in {time.perf_counter() - start:.1f} s"
          f" ({'doctrees of the HTML build reused' if reused else 'pages read again'})",
          flush=True)
    if code:
        print(text[-4000:], file=sys.stderr)
        raise SystemExit(f"{lang}: the singlehtml build failed (log: {log})")


class Server:
    """_build/editions over http on 127.0.0.1, quietly, in a thread."""

    def __enter__(self):
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        handler = functools.partial(Quiet, directory=str(BUILD / "editions"))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


# Runs in the page once it is loaded and typeset: the title page, the table of
# contents, one heading level per chapter, and the print order of the content.
PREPARE = """({title, author, url, contents}) => {
  const article = document.querySelector('article.bd-article');
  const rename = (el, tag) => {
    const n = document.createElement(tag);
    for (const a of el.attributes) n.setAttribute(a.name, a.value);
    while (el.firstChild) n.appendChild(el.firstChild);
    el.replaceWith(n);
    return n;
  };
  // singlehtml inlines each chapter where the root page's toctree is (inside its last
  // section) and demotes its headings: chapters follow the root page, at level 1.
  const wrapper = article.querySelector('.toctree-wrapper');
  if (wrapper) article.appendChild(wrapper);
  for (const span of article.querySelectorAll('span[id^="document-"]')) {
    const section = span.nextElementSibling;
    const first = section.querySelector('h1, h2, h3, h4, h5, h6');
    const shift = Number(first.tagName[1]) - 1;
    for (const h of [...section.querySelectorAll('h1, h2, h3, h4, h5, h6')]) {
      rename(h, 'h' + Math.max(1, Number(h.tagName[1]) - shift));
    }
  }
  const first = article.querySelector('section');
  first.classList.add('pdf-book-start');
  // Table of contents: every h1 and h2, linked, with a page number filled in later.
  const toc = document.createElement('nav');
  toc.className = 'pdf-toc';
  const head = document.createElement('h1');
  head.textContent = contents;
  toc.appendChild(head);
  const top = document.createElement('ol');
  toc.appendChild(top);
  let chapter = null;
  const text = h => [...h.childNodes].filter(n => !(n.classList &&
      n.classList.contains('headerlink'))).map(n => n.textContent).join('').trim();
  for (const h of article.querySelectorAll('h1, h2')) {
    const target = h.closest('section');
    const li = document.createElement('li');
    const line = document.createElement('div');
    line.className = 'pdf-toc-line';
    const a = document.createElement('a');
    a.href = '#' + (target ? target.id : '');
    a.textContent = text(h);
    const dots = document.createElement('span');
    dots.className = 'pdf-toc-dots';
    const page = document.createElement('span');
    page.className = 'pdf-toc-page';
    page.textContent = '000';
    page.style.visibility = 'hidden';
    line.append(a, dots, page);
    li.appendChild(line);
    if (h.tagName === 'H1') {
      chapter = document.createElement('ol');
      li.appendChild(chapter);
      top.appendChild(li);
    } else if (chapter) {
      chapter.appendChild(li);
    }
  }
  for (const ol of toc.querySelectorAll('ol ol')) if (!ol.children.length) ol.remove();
  article.prepend(toc);
  const cover = document.createElement('div');
  cover.className = 'pdf-title';
  for (const [cls, value] of [['pdf-title-main', title], ['pdf-title-framework', ''],
                               ['pdf-title-author', author], ['pdf-title-url', url]]) {
    const div = document.createElement('div');
    div.className = cls;
    div.textContent = value;
    cover.appendChild(div);
  }
  article.prepend(cover);
  for (const d of document.querySelectorAll('details')) d.open = true;
  return [...toc.querySelectorAll('.pdf-toc-line a')].map(a => a.textContent);
}"""

# Shows one framework's tab content in every tab set, names it on the title page.
SELECT = """([framework, line, title]) => {
  for (const label of document.querySelectorAll('.framework-tabs > label')) {
    label.nextElementSibling.classList.toggle('pdf-framework',
                                              label.dataset.syncId === framework);
  }
  document.querySelector('.pdf-title-framework').textContent = line;
  document.title = title;
  for (const p of document.querySelectorAll('.pdf-toc-page')) {
    p.textContent = '000';
    p.style.visibility = 'hidden';
  }
}"""

PAGES = """(pages) => {
  document.querySelectorAll('.pdf-toc-page').forEach((p, i) => {
    p.textContent = pages[i] ? String(pages[i]) : '';
    p.style.visibility = 'visible';
  });
}"""


# The printed headings, in order: what the PDF's outline should hold.
HEADINGS = """() => [...document.querySelectorAll('article h1, article h2, article h3, '
    + 'article h4, article h5, article h6')].filter(h => h.getClientRects().length)
    .map(h => [...h.childNodes].filter(n => !(n.classList &&
        n.classList.contains('headerlink'))).map(n => n.textContent).join(''))
    .map(t => t.split(/\\s+/).join(' ').trim())"""


def retitle(pdf: bytes, titles: list[str]) -> bytes:
    """The PDF with its outline entries renamed, in order, to the given titles."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # Chromium's trailer /Size is 1 short
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    node, stack, i = writer._root_object["/Outlines"].get("/First"), [], 0
    while node is not None:  # depth first, as outline_pages reads them
        entry = node.get_object()
        entry[NameObject("/Title")] = TextStringObject(titles[i])
        i += 1
        if "/First" in entry:
            stack.append(entry.get("/Next"))
            node = entry["/First"]
            continue
        node = entry.get("/Next")
        while node is None and stack:
            node = stack.pop()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def outline_pages(pdf: bytes) -> list[tuple[int, str, int]]:
    """(depth, title, page number from 1) of every outline entry, in order."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    found = []

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                found.append((depth, " ".join(item.title.split()),
                              reader.get_destination_page_number(item) + 1))

    walk(reader.outline, 0)
    return found


def toc_numbers(entries: list[str], outline: list[tuple[int, str, int]]) -> list[int]:
    """The page of each table-of-contents entry: the next outline entry, in order,
    with the same title (the table's own heading comes first and is skipped)."""
    pages, i = [], 0
    for entry in entries:
        want = " ".join(entry.split())
        j = i
        while j < len(outline) and outline[j][1] != want:
            j += 1
        if j == len(outline):
            pages.append(0)
        else:
            pages.append(outline[j][2])
            i = j + 1
    return pages


def templates(lang: str, title: str, framework: str) -> tuple[str, str]:
    style = ("font-family: 'DejaVu Sans', Arial, sans-serif; font-size: 7.5pt; "
             "color: #555; width: 100%; margin: 0 16mm;")
    header = (f'<div style="{style} display: flex; justify-content: space-between;">'
              f"<span>{html.escape(title)}</span>"
              f"<span>{html.escape(FRAMEWORKS[framework])}</span></div>")
    page = html.escape(WORDS[lang]["page"]).format(
        page='<span class="pageNumber"></span>', total='<span class="totalPages"></span>')
    footer = f'<div style="{style} text-align: center;">{page}</div>'
    return header, footer


def print_edition(browser, base: str, lang: str, frameworks: list[str]) -> dict:
    config = build_book.edition_config(lang)
    title, author = config["title"], config["author"]
    site = config["sphinx"]["config"]["book_site_url"].rstrip("/") + f"/{lang}/"
    words = WORDS[lang]
    took = {}
    start = time.perf_counter()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    failed = []
    # singlehtml has no search index, though the theme's search script asks for one
    page.on("requestfailed", lambda r: None if r.url.endswith("/searchindex.js")
            else failed.append(r.url))
    page.goto(f"{base}/{lang}/_build/singlehtml/index.html?framework={frameworks[0]}",
              wait_until="networkidle")
    page.wait_for_function("() => window.MathJax && MathJax.startup && "
                           "MathJax.startup.promise", timeout=60000)
    page.evaluate("() => MathJax.startup.promise")
    page.emulate_media(media="print")
    page.add_style_tag(content=PRINT_CSS.read_text())
    entries = page.evaluate(PREPARE, {"title": title, "author": author,
                                      "url": words["online"].format(url=site),
                                      "contents": words["contents"]})
    page.evaluate("() => document.fonts.ready.then(() => true)")
    untypeset = page.evaluate("() => [...document.querySelectorAll('.math')]"
                              ".filter(e => !e.querySelector('mjx-container')).length")
    broken = page.evaluate("() => [...document.images].filter(i => !i.complete || "
                           "i.naturalWidth === 0).map(i => i.src)")
    if untypeset or broken or failed:
        raise SystemExit(f"{lang}: {untypeset} math elements not typeset, "
                         f"broken images {broken[:3]}, failed requests {failed[:3]}")
    print(f"== {lang}: page loaded and typeset in {time.perf_counter() - start:.1f} s",
          flush=True)
    for fw in frameworks:
        t0 = time.perf_counter()
        page.evaluate(SELECT, [fw, words["framework"].format(framework=FRAMEWORKS[fw]),
                               f"{title} ({FRAMEWORKS[fw]})"])
        header, footer = templates(lang, title, fw)
        options = dict(format="A4", print_background=True, outline=True, tagged=True,
                       display_header_footer=True, header_template=header,
                       footer_template=footer,
                       margin={"top": "20mm", "bottom": "18mm", "left": "16mm",
                               "right": "16mm"})
        first = page.pdf(**options)  # its outline gives the table's page numbers
        outline = outline_pages(first)
        headings = page.evaluate(HEADINGS)
        if len(outline) != len(headings):
            raise SystemExit(f"{lang}/{fw}: {len(headings)} headings printed but "
                             f"{len(outline)} bookmarks")
        # Chromium takes a bookmark's title from the glyphs it painted; with some fonts
        # it doubles them (see print.css). Then the bookmarks are renamed after the DOM.
        wrong = [(t, h) for (_, t, _), h in zip(outline, headings) if t != h]
        outline = [(d, h, n) for (d, _, n), h in zip(outline, headings)]
        numbers = toc_numbers(entries, outline)
        if 0 in numbers:
            missing = [e for e, n in zip(entries, numbers) if not n]
            raise SystemExit(f"{lang}/{fw}: no bookmark for {missing[:3]}")
        page.evaluate(PAGES, numbers)
        pdf = page.pdf(**options)
        if wrong:
            print(f"   {len(wrong)} bookmark titles renamed, e.g. {wrong[0][0]!r}")
            pdf = retitle(pdf, headings)
        out = pdf_path(lang, fw)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(pdf)
        took[fw] = time.perf_counter() - t0
        shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
        print(f"== {shown}: {took[fw]:.1f} s, "
              f"{out.stat().st_size / 1e6:.1f} MB", flush=True)
    page.close()
    return took


def chromium() -> str:
    found = (shutil.which("chromium") or shutil.which("chromium-browser")
             or shutil.which("google-chrome"))
    if not found:
        raise SystemExit("needs chromium (see the README's install command)")
    return found


def edition(lang: str, frameworks: list[str], base: str, build: bool) -> None:
    """One edition: its singlehtml build, then its PDFs, in a browser of its own."""
    from playwright.sync_api import sync_playwright

    if build:
        build_singlehtml(lang)
    if not (singlehtml_dir(lang) / "index.html").exists():
        raise SystemExit(f"no singlehtml build for {lang}: run without --skip-singlehtml")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            print_edition(browser, base, lang, frameworks)
        finally:
            browser.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lang", action="append", choices=EDITIONS,
                   help="this edition only (repeatable); default: all")
    p.add_argument("--framework", action="append", choices=list(FRAMEWORKS),
                   help="this framework only (repeatable); default: all")
    p.add_argument("--skip-singlehtml", action="store_true",
                   help="print the singlehtml pages already built")
    p.add_argument("--jobs", type=int, default=len(EDITIONS),
                   help="editions built and printed at the same time (default: %(default)s)")
    args = p.parse_args(argv)
    langs = args.lang or list(EDITIONS)
    frameworks = args.framework or list(FRAMEWORKS)
    chromium()
    start = time.perf_counter()
    with Server() as base, ThreadPoolExecutor(max_workers=args.jobs) as pool:
        jobs = [pool.submit(edition, lang, frameworks, base, not args.skip_singlehtml)
                for lang in langs]
        for job in jobs:
            job.result()
    print(f"== {len(langs) * len(frameworks)} PDFs in {time.perf_counter() - start:.1f} s",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
