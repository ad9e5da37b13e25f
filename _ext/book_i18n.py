"""Sphinx extension: links between the book's editions.

Each edition (book/en, book/pt, book/fr) is a Sphinx project of its own, built into
<site>/<code>/ (tools/build_book.py). On every page this extension adds

- a language switcher at the top of the article that leads to the same page in the
  other editions (only to editions that have that page);
- ``<link rel="alternate" hreflang="...">`` tags for every edition of the page, plus
  ``x-default`` (the English one), with absolute URLs under ``book_site_url``, so
  that search engines serve each reader the edition in their language.

Sphinx has no notion of sibling projects, so no maintained extension does this; the
language of the page itself (``<html lang>``, search, interface strings, figure
numbers) comes from Sphinx's own ``language`` setting in each edition's config.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from d2l_resnet.registry import LANGUAGES

# Edition folder -> (name in its own language, BCP 47 tag for lang and hreflang).
EDITIONS = {code: (lang.name, lang.tag) for code, lang in LANGUAGES.items()}
DEFAULT = "en"


def edition_of(app) -> str:
    """The edition code of this build: the name of its source folder (book/<code>)."""
    code = Path(app.srcdir).name
    if code not in EDITIONS:
        raise ValueError(f"book_i18n: source folder {app.srcdir} is not one of "
                         f"book/{{{','.join(EDITIONS)}}}; build with tools/build_book.py")
    return code


def has_page(app, code: str, pagename: str) -> bool:
    folder = Path(app.srcdir).parent / code
    return any((folder / f"{pagename}{ext}").is_file() for ext in (".md", ".ipynb"))


def page_url(app, code: str, pagename: str) -> str:
    return f"{app.config.book_site_url.rstrip('/')}/{code}/{pagename}.html"


def relative_url(pagename: str, code: str) -> str:
    """From <site>/<lang>/<pagename>.html to the same page in edition `code`."""
    up = "../" * (pagename.count("/") + 1)
    return f"{up}{code}/{pagename}.html"


def add_links(app, pagename, templatename, context, doctree):
    here = edition_of(app)
    editions = [c for c in EDITIONS if c == here or has_page(app, c, pagename)]
    tags = [f'<link rel="alternate" hreflang="{EDITIONS[c][1]}" '
            f'href="{escape(page_url(app, c, pagename))}" />' for c in editions]
    if DEFAULT in editions:
        tags.append(f'<link rel="alternate" hreflang="x-default" '
                    f'href="{escape(page_url(app, DEFAULT, pagename))}" />')
    context["metatags"] = context.get("metatags", "") + "\n".join(tags) + "\n"
    if "body" not in context or len(editions) < 2:
        return
    links = []
    for code in editions:
        name, tag = EDITIONS[code]
        if code == here:
            links.append(f'<span class="lang-current" lang="{tag}" aria-current="page">'
                         f"{name}</span>")
        else:
            links.append(f'<a href="{relative_url(pagename, code)}" hreflang="{tag}" '
                         f'lang="{tag}">{name}</a>')
    label = app.config.book_switcher_label or "Language"
    nav = (f'<nav class="lang-switch" aria-label="{escape(label)}">'
           f'{" · ".join(links)}</nav>\n')
    context["body"] = nav + context["body"]


def prefer_repo_theme_strings(app):
    """Puts the repo's sphinx-book-theme strings (locales/<language>/booktheme.po) first.

    Sphinx compiles only its own `sphinx` catalog from `locale_dirs`, and a theme's
    catalog registered later only serves as a fallback to the first one registered
    (the theme's own). So the repo's catalog is compiled here and put in front, with
    the theme's as its fallback: it overrides a few wordings and fills the gaps.
    """
    import gettext

    from sphinx import locale
    from sphinx.util.i18n import CatalogRepository

    config = app.config
    repo = CatalogRepository(app.srcdir, config.locale_dirs, config.language,
                             config.source_encoding)
    for catalog in repo.catalogs:
        if catalog.domain != "booktheme":
            continue
        if catalog.is_outdated():
            catalog.write_mo(config.language)
        ours = gettext.translation("booktheme", str(Path(catalog.base_dir).parent.parent),
                                   languages=[config.language])
        key = ("general", "booktheme")
        if key in locale.translators:
            ours.add_fallback(locale.translators[key])
        locale.translators[key] = ours


def set_canonical(app, config):
    # Jupyter Book fills html_theme_options itself (launch and repository buttons) and
    # has no key for the search box's text: set only that one here.
    if config.book_search_bar_text:
        config.html_theme_options["search_bar_text"] = config.book_search_bar_text
    if config.book_site_url and not config.html_baseurl:
        config.html_baseurl = f"{config.book_site_url.rstrip('/')}/{edition_of(app)}/"


def setup(app):
    app.add_config_value("book_site_url", "", "html")
    app.add_config_value("book_switcher_label", "", "html")
    app.add_config_value("book_search_bar_text", "", "html")
    app.connect("config-inited", set_canonical)
    app.connect("builder-inited", prefer_repo_theme_strings)
    app.connect("html-page-context", add_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "2.0"}
