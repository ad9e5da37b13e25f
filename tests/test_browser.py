"""The built HTML as a reader sees it, in headless Chromium (pytest-playwright's
``page`` fixture on Debian's chromium): math typeset offline, figures loaded, the
framework tabs switching from the mouse and the keyboard and remembered across pages
and editions, the language switcher, and each edition's own search.

Needs the built book (``python tools/build_book.py``) and Debian's chromium. On CI
both must be there; elsewhere the tests are skipped without them. On a failure,
pytest-playwright keeps a screenshot and a trace under _build/playwright/.
"""

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
import tomllib

from d2l_resnet.registry import FRAMEWORKS as REGISTRY
from d2l_resnet.registry import LANGUAGES

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = (shutil.which("chromium") or shutil.which("chromium-browser")
            or shutil.which("google-chrome"))
ON_CI = os.environ.get("CI") == "true"
EDITIONS = tuple(LANGUAGES)
FRAMEWORKS = {tag: fw.name for tag, fw in REGISTRY.items()}

missing = [what for what, ok in (("the built book in _build/html", (HTML / "index.html").exists()),
                                 ("chromium", CHROMIUM)) if not ok]
if missing and ON_CI:
    raise RuntimeError(f"CI needs {' and '.join(missing)}: run the README's install command")
pytestmark = pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)}")

SKIP = ("genindex.html", "search.html")
PAGES = sorted(p.relative_to(HTML).as_posix() for lang in EDITIONS
               for p in (HTML / lang).glob("*.html") if p.name not in SKIP)
CODE_PAGES = [p for p in PAGES if not p.endswith(("index.html", "glossary.html"))]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's chromium, not a browser that playwright downloads; no background
    traffic (this machine's network is closed)."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": [
        "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="session")
def server():
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def requests(page):
    seen = []
    page.on("request", lambda r: seen.append(r.url))
    return seen


def _open(page, server, path):
    page.goto(f"{server}/{path}", wait_until="networkidle")
    page.wait_for_function("() => !document.querySelector('.math') || "
                           "document.querySelector('mjx-container') !== null", timeout=20000)


def _shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_math_and_images_offline(page, server, requests, path):
    _open(page, server, path)
    raw_tex = page.evaluate("""() => {
        const text = [...document.querySelectorAll('article p, article li, article figcaption')]
            .map(e => e.innerText).join('\\n');
        const tex = /\\$[^$\\n]*\\\\[a-zA-Z]+[^$\\n]*\\$|\\\\(mathbf|mathcal|frac|textrm)\\b/g;
        return text.match(tex) || [];
    }""")
    assert raw_tex == [], f"raw TeX on {path}: {raw_tex[:3]}"
    untypeset = page.evaluate("() => [...document.querySelectorAll('.math')]"
                              ".filter(e => !e.querySelector('mjx-container')).length")
    assert untypeset == 0, f"{untypeset} math elements not typeset on {path}"
    broken = page.evaluate("() => [...document.images].filter(i => i.complete && "
                           "i.naturalWidth === 0 && !i.src.endsWith('.ico')).map(i => i.src)")
    assert broken == [], f"broken images on {path}: {broken}"
    outside = [u for u in requests if not u.startswith(server) and not u.startswith("data:")]
    assert outside == [], f"{path} requested the network: {outside[:3]}"
    _shot(page, path.replace("/", "_") + ".png")


def _shown(page):
    """Framework of the visible code cells of each tab set on the page."""
    return page.evaluate("""() => [...document.querySelectorAll('.framework-tabs')].map(set =>
        [...set.querySelectorAll(':scope > .sd-tab-content')]
            .filter(c => c.offsetParent !== null)
            .map(c => c.previousElementSibling.dataset.syncId))""")


def _frameworks(page):
    return page.evaluate("() => [...new Set([...document.querySelectorAll("
                         "'.framework-tabs > label')].map(l => l.dataset.syncId))]")


@pytest.mark.parametrize("path", CODE_PAGES)
def test_framework_tabs_switch_the_whole_page(page, server, path):
    _open(page, server, path)
    fws = _frameworks(page)
    assert fws == list(FRAMEWORKS), "every code page has a PyTorch, a TensorFlow and a JAX tab"
    shown = _shown(page)
    assert shown and all(s == ["pytorch"] for s in shown), "PyTorch is the default"
    for fw in reversed(fws):
        page.locator(".framework-tabs > label", has_text=FRAMEWORKS[fw]).last.click()
        assert all(s == [fw] for s in _shown(page)), f"{fw}: not every tab set followed"


LINE_LENGTH = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["line-length"]


@pytest.mark.parametrize("path", CODE_PAGES)
def test_code_fits_its_block(page, server, path):
    """At a 1280-pixel window no code line is cut at the block's edge, for any of
    the three frameworks, and a block holds a line of pyproject's line length (the
    formatter's, which tests/test_book.py holds the code to) in the page's font."""
    _open(page, server, path)
    for fw in FRAMEWORKS:
        page.locator(".framework-tabs > label", has_text=FRAMEWORKS[fw]).first.click()
        cut = page.evaluate("""() => [...document.querySelectorAll('.cell_input pre')]
            .filter(pre => pre.offsetParent !== null && pre.scrollWidth > pre.clientWidth)
            .map(pre => pre.textContent.split('\\n').sort((a, b) => b.length - a.length)[0])""")
        assert cut == [], f"{path}, {fw}: {len(cut)} code blocks scroll, e.g. {cut[0]!r}"
    # Columns: the block's inner width over the advance of one character of its font.
    columns = page.evaluate("""() => {
        const pre = [...document.querySelectorAll('.cell_input pre')]
            .find(p => p.offsetParent !== null);
        const probe = document.createElement('span');
        probe.textContent = 'x'.repeat(200);
        pre.appendChild(probe);
        const advance = probe.getBoundingClientRect().width / 200;
        probe.remove();
        const style = getComputedStyle(pre);
        const inner = pre.clientWidth - parseFloat(style.paddingLeft)
            - parseFloat(style.paddingRight);
        return Math.floor(inner / advance);
    }""")
    assert columns >= LINE_LENGTH, f"{path}: the code block holds {columns} columns"


def test_framework_tabs_work_from_the_keyboard(page, server):
    _open(page, server, "en/residual-blocks.html")
    first = page.locator(".framework-tabs > input").first
    first.focus()  # Tab lands on the checked radio of a tab set
    assert page.evaluate("() => document.activeElement.nextElementSibling.dataset.syncId") \
        == "pytorch"
    page.keyboard.press("ArrowRight")
    assert all(s == ["tensorflow"] for s in _shown(page))
    page.keyboard.press("ArrowRight")
    assert all(s == ["jax"] for s in _shown(page))
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert all(s == ["pytorch"] for s in _shown(page))
    # Tab from the page's top reaches a framework tab without the mouse
    page.goto(f"{server}/en/residual-blocks.html", wait_until="networkidle")
    for _ in range(200):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches('.framework-tabs > input')"):
            break
    else:
        pytest.fail("no framework tab reachable with the Tab key")
    page.keyboard.press("ArrowRight")
    assert all(s == ["tensorflow"] for s in _shown(page))
    _shot(page, "keyboard-tensorflow.png")


def test_framework_choice_persists_across_pages_and_editions(page, server):
    _open(page, server, "en/residual-blocks.html")
    page.locator(".framework-tabs > label", has_text="TensorFlow").first.click()
    for path in ("en/resnext.html", "fr/training.html", "pt/resnet-model.html"):
        _open(page, server, path)
        assert all(s == ["tensorflow"] for s in _shown(page)), path
    _shot(page, "tensorflow-remembered.png")
    _open(page, server, "fr/resnext.html?framework=pytorch")  # a link may preselect
    assert all(s == ["pytorch"] for s in _shown(page))


@pytest.mark.parametrize("lang", EDITIONS)
def test_jax_choice_is_remembered_in_every_edition(page, server, lang):
    """Choosing JAX on one page of an edition shows JAX on its other pages, on the
    degradation page (the last to get JAX cells) and in the other editions."""
    _open(page, server, f"{lang}/residual-blocks.html")
    page.locator(".framework-tabs > label", has_text="JAX").first.click()
    assert all(s == ["jax"] for s in _shown(page))
    for path in (f"{lang}/degradation.html", f"{lang}/training.html",
                 *(f"{other}/resnext.html" for other in EDITIONS if other != lang)):
        _open(page, server, path)
        shown = _shown(page)
        assert shown and all(s == ["jax"] for s in shown), path
    _open(page, server, f"{lang}/degradation.html")
    page.locator(".framework-tabs").nth(2).scroll_into_view_if_needed()  # the gradients
    _shot(page, f"jax-{lang}-degradation.png")


def test_choice_stored_by_the_old_tab_script_is_kept(page, server):
    """Readers' choice made before the move to sphinx-design (same localStorage key)."""
    _open(page, server, "en/index.html")
    page.evaluate("() => localStorage.setItem('d2l-resnet-framework', 'tensorflow')")
    _open(page, server, "pt/training.html")
    assert all(s == ["tensorflow"] for s in _shown(page))


@pytest.mark.parametrize("path", PAGES)
def test_language_switcher_leads_to_the_same_page(page, server, path):
    lang, name = path.split("/")
    _open(page, server, path)
    switch = page.locator("nav.lang-switch")
    assert switch.count() == 1
    targets = sorted(switch.locator("a").evaluate_all("as => as.map(a => a.href)"))
    assert targets == sorted(f"{server}/{other}/{name}" for other in EDITIONS if other != lang)


def test_switching_to_french_keeps_the_page(page, server):
    _open(page, server, "en/resnext.html")
    page.locator("nav.lang-switch a", has_text="Français").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/fr/resnext.html")
    assert page.evaluate("() => document.documentElement.lang") == "fr"
    assert page.locator("h1").first.inner_text().strip().startswith("ResNeXt")
    _shot(page, "switched-to-french.png")


@pytest.mark.parametrize(("lang", "query", "stem"), [
    ("fr", "résiduels", "résiduel"), ("pt", "residuais", "residual")])
def test_search_finds_other_inflections_in_the_edition_only(page, server, lang, query, stem):
    """The edition's search index uses its language's stemmer: a plural finds pages
    that only have the singular, and only pages of that edition come back."""
    page.goto(f"{server}/{lang}/search.html?q={query}", wait_until="networkidle")
    # Sphinx's search lists its hits one by one (a 5 ms timer each) and writes the
    # summary, "... found N page(s) ...", only after the last: read the hits then.
    page.wait_for_function(
        """() => {
            const summary = document.querySelector('#search-results .search-summary');
            const found = summary && summary.innerText.match(/\\d+/);
            return found && document.querySelectorAll('#search-results li').length
                >= Number(found[0]) && Number(found[0]) > 0;
        }""", timeout=20000)
    hits = page.locator("#search-results li a").evaluate_all(
        "as => [...new Set(as.map(a => a.href.split('#')[0].split('?')[0]))]")
    assert hits and all(h.startswith(f"{server}/{lang}/") for h in hits), hits
    sources = [(ROOT / "book" / lang / Path(h).name).with_suffix(".md").read_text().lower()
               for h in hits]
    only_other_form = [s for s in sources if query not in s and stem in s]
    assert only_other_form, f"every hit contains {query!r} itself: stemming not shown"
    _shot(page, f"search-{lang}.png")


def test_landing_page_offers_the_editions(page, server):
    page.goto(f"{server}/index.html", wait_until="networkidle")
    links = page.locator("a.edition").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert sorted(links) == [f"{lang}/index.html" for lang in sorted(EDITIONS)]
    for href in links:
        assert (HTML / href).is_file()


def test_landing_page_suggests_the_browsers_language(browser, server):
    context = browser.new_context(locale="fr-FR")
    try:
        pg = context.new_page()
        pg.goto(f"{server}/index.html", wait_until="networkidle")
        assert pg.evaluate("() => document.activeElement.dataset.lang") == "fr"
        with pg.expect_navigation():
            pg.keyboard.press("Enter")
        assert re.search(r"/fr/index\.html$", pg.url)
    finally:
        context.close()


def _notebook_links(page):
    """The Colab and download entries the reader can see: {kind: [(framework, href)]}."""
    return page.evaluate("""() => {
        const out = {colab: [], notebook: []};
        for (const kind of Object.keys(out)) {
            document.querySelectorAll(`a[class*="btn-${kind}-"]`).forEach((a) => {
                const li = a.closest("li");
                if (li && li.hidden) return;
                const fw = [...a.classList].find((c) => c.startsWith(`btn-${kind}-`));
                out[kind].push([fw.slice(`btn-${kind}-`.length), a.href]);
            });
        }
        return out;
    }""")


@pytest.mark.parametrize("lang", EDITIONS)
def test_colab_and_download_follow_the_framework_tab(page, server, lang):
    _open(page, server, f"{lang}/resnext.html")
    links = _notebook_links(page)
    assert [fw for fw, _ in links["colab"]] == ["pytorch"]
    assert links["colab"][0][1].endswith(f"/{lang}/pytorch/resnext.ipynb")
    assert links["notebook"] == [["pytorch", f"{server}/{lang}/_notebooks/pytorch/resnext.ipynb"]]
    for fw in ("jax", "tensorflow"):
        page.locator(".framework-tabs > label", has_text=FRAMEWORKS[fw]).first.click()
        links = _notebook_links(page)
        assert [f for f, _ in links["colab"]] == [fw] == [f for f, _ in links["notebook"]]
        assert links["colab"][0][1].endswith(f"/{lang}/{fw}/resnext.ipynb")
    # The choice, remembered, sets the links of the next page.
    _open(page, server, f"{lang}/training.html")
    assert [f for f, _ in _notebook_links(page)["colab"]] == ["tensorflow"]
    page.locator(".dropdown-launch-buttons button").click()
    _shot(page, f"colab-menu-{lang}.png")


def test_without_javascript_every_notebook_is_offered(browser, server):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server}/pt/training.html")
    for fw in FRAMEWORKS:
        for kind in ("colab", "notebook"):
            link = page.locator(f"a.btn-{kind}-{fw}")
            assert link.count() == 1
            assert link.locator("xpath=..").get_attribute("hidden") is None
        assert page.locator(f"a.btn-colab-{fw}").get_attribute("href").endswith(
            f"/pt/{fw}/training.ipynb")
    context.close()
