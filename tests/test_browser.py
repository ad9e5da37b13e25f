"""The built HTML as a reader sees it, in headless Chromium: math typeset offline,
figures loaded, the framework switch switching and remembered across pages.

Needs the built book (``jupyter-book build .``) and Debian's chromium. On CI both
must be there; elsewhere the test is skipped without them.
"""

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = (shutil.which("chromium") or shutil.which("chromium-browser")
            or shutil.which("google-chrome"))
ON_CI = os.environ.get("CI") == "true"

missing = [what for what, ok in (("the built book in _build/html", (HTML / "index.html").exists()),
                                 ("chromium", CHROMIUM)) if not ok]
if missing and ON_CI:
    raise RuntimeError(f"CI needs {' and '.join(missing)}: run the README's install command")
pytestmark = pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)}")

PAGES = sorted(p.relative_to(HTML).as_posix() for p in HTML.glob("book/*/*.html"))
CODE_PAGES = [p for p in PAGES if not p.endswith(("index.html", "glossary.html"))]


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    requests = []
    context.on("request", lambda r: requests.append(r.url))
    pg = context.new_page()
    pg.external_requests = requests
    yield pg
    context.close()


def _open(page, server, path):
    page.goto(f"{server}/{path}", wait_until="networkidle")
    page.wait_for_function("() => !document.querySelector('.math') || "
                           "document.querySelector('mjx-container') !== null", timeout=20000)


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_math_and_images_offline(page, server, path):
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
    outside = [u for u in page.external_requests if not u.startswith(server)
               and not u.startswith("data:")]
    assert outside == [], f"{path} requested the network: {outside[:3]}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / (path.replace("/", "_") + ".png")), full_page=False)


def _visible(page, tag):
    return page.evaluate(f"() => [...document.querySelectorAll('.cell.tag_{tag}')]"
                         ".filter(e => e.offsetParent !== null).length")


@pytest.mark.parametrize("path", CODE_PAGES)
def test_framework_switch_switches_the_whole_page(page, server, path):
    _open(page, server, path)
    bars = page.locator(".fw-tabs")
    assert bars.count() >= 1, "no framework tab bar"
    n_pt, n_tf = (page.locator(f".cell.tag_{t}").count() for t in ("pytorch", "tensorflow"))
    assert n_pt == n_tf > 0
    assert (_visible(page, "pytorch"), _visible(page, "tensorflow")) == (n_pt, 0)
    bars.last.get_by_role("tab", name="TensorFlow").click()
    assert (_visible(page, "pytorch"), _visible(page, "tensorflow")) == (0, n_tf)
    assert bars.first.get_by_role("tab", name="TensorFlow").get_attribute(
        "aria-selected") == "true"


def test_framework_choice_is_remembered_across_pages(page, server):
    first, second = CODE_PAGES[0], CODE_PAGES[1]
    _open(page, server, first)
    page.locator(".fw-tabs").first.get_by_role("tab", name="TensorFlow").click()
    _open(page, server, second)
    assert _visible(page, "pytorch") == 0 and _visible(page, "tensorflow") > 0
    page.screenshot(path=str(SHOTS / "tensorflow-remembered.png"))


@pytest.mark.parametrize("path", PAGES)
def test_language_switcher_and_localized_labels(page, server, path):
    lang, name = path.split("/")[1], path.split("/")[2]
    _open(page, server, path)
    switch = page.locator("nav.lang-switch")
    assert switch.count() == 1
    targets = sorted(switch.locator("a").evaluate_all("as => as.map(a => a.href)"))
    assert targets == sorted(f"{server}/book/{other}/{name}" for other in ("en", "pt", "fr")
                             if other != lang)
    words = {"en": "Fig.", "pt": "Figura", "fr": "Figure"}
    captions = page.locator(".caption-number").all_inner_texts()
    assert all(c.startswith(words[lang]) for c in captions), captions
    if lang != "en":
        assert not any(c.startswith("Fig.") for c in captions)


def test_language_switcher_leads_to_the_same_page(page, server):
    _open(page, server, "book/en/resnext.html")
    page.locator("nav.lang-switch a", has_text="Français").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/book/fr/resnext.html")
    assert page.locator("h1").first.inner_text().strip().startswith("ResNeXt")
    page.screenshot(path=str(SHOTS / "switched-to-french.png"))
