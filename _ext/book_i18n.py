"""Sphinx extension: each language edition speaks its language inside the content.

- "Fig. N" (in captions and {numref} references) becomes "Figura N" / "Figure N" on
  the Portuguese and French pages; Sphinx's numfig_format is one per project.
- Every page of an edition starts with a language switcher that leads to the same
  page in the other editions.
"""

from __future__ import annotations

import re

LANGUAGES = {"en": "English", "pt": "Português", "fr": "Français"}
FIGURE = {"en": "Fig.", "pt": "Figura", "fr": "Figure"}
HTML_LANG = {"en": "en", "pt": "pt-BR", "fr": "fr"}


def edition(docname: str) -> tuple[str, str] | None:
    """('pt', 'resnext') for 'book/pt/resnext'; None outside the editions."""
    parts = docname.split("/")
    if len(parts) == 3 and parts[0] == "book" and parts[1] in LANGUAGES:
        return parts[1], parts[2]
    return None


def switcher(app, docname: str, lang: str, page: str) -> str:
    links = []
    for code, name in LANGUAGES.items():
        target = f"book/{code}/{page}"
        if target not in app.env.found_docs:
            continue
        if code == lang:
            links.append(f'<span class="lang-current" lang="{HTML_LANG[code]}">{name}</span>')
        else:
            uri = app.builder.get_relative_uri(docname, target)
            links.append(f'<a href="{uri}" hreflang="{HTML_LANG[code]}" '
                         f'lang="{HTML_LANG[code]}">{name}</a>')
    return f'<nav class="lang-switch" aria-label="Language">{" · ".join(links)}</nav>\n'


def localize(app, pagename, templatename, context, doctree):
    found = edition(pagename)
    if not found or "body" not in context:
        return
    lang, page = found
    body = context["body"]
    if lang != "en":
        word = FIGURE[lang]
        body = re.sub(r'(<span class="caption-number">)Fig\. ', rf"\g<1>{word} ", body)
        body = re.sub(r'(<span class="std std-numref">)Fig\. ', rf"\g<1>{word} ", body)
    context["body"] = switcher(app, pagename, lang, page) + body


def setup(app):
    app.connect("html-page-context", localize)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
