"""Words of prose on each page of an edition: on the main path, and in the depth a
reader can skip.

A learner reads the *main path*: the running text, headings, lists, figure captions
and the "what to remember" boxes. What is marked as depth is counted apart:

- an *aside*, any directive whose ``:class:`` names ``aside`` (the book folds them
  with sphinx-togglebutton's ``dropdown`` class), with its title;
- a *going further* section, a section whose label ends in ``-further``, down to
  the next heading of the same or a higher level.

Code (code cells, code blocks, inline code), display math and the reference lists
are not prose and count nowhere; inline math and a role (a cross-reference, a
textual citation) count as one word each, a parenthetical citation as none.

The text is parsed with myst-parser's own markdown-it configuration, so a directive
nested in an admonition is found as Sphinx finds it; what is left by hand is the
walk over directive bodies, which markdown-it keeps as raw text.

    python tools/wordcount.py                 # English pages, a table
    python tools/wordcount.py --lang fr --json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from markdown_it.renderer import RendererHTML
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser

ROOT = Path(__file__).resolve().parents[1]
# as in _config.yml's parse.myst_enable_extensions
EXTENSIONS = {"amsmath", "colon_fence", "dollarmath", "deflist", "substitution"}
NOT_PROSE = {
    "code-cell", "code-block", "code", "sourcecode", "math", "raw",
    "footbibliography", "bibliography", "literalinclude", "glue:figure",
}
WORD = re.compile(r"[^\W_](?:[\w’'.-]*[^\W_])?")
_MD = create_md_parser(MdParserConfig(enable_extensions=EXTENSIONS), RendererHTML)


def _words(text: str) -> int:
    return len(WORD.findall(text))


def _split_directive(info: str, body: str) -> tuple[str, str, dict[str, str], str]:
    """Name, argument, options and content of a MyST directive's fence."""
    name, _, argument = info.strip()[1:].partition("}")
    options: dict[str, str] = {}
    lines = body.splitlines()
    i = 0
    if lines[:1] == ["---"]:  # YAML options block
        end = lines.index("---", 1) if "---" in lines[1:] else 0
        for line in lines[1:end]:
            key, _, value = line.partition(":")
            options[key.strip()] = value.strip()
        i = end + 1
    while i < len(lines) and re.match(r"^:[\w-]+:", lines[i]):
        key, _, value = lines[i][1:].partition(":")
        options[key] = value.strip()
        i += 1
    return name.strip(), argument.strip(), options, "\n".join(lines[i:])


def count(text: str) -> dict[str, int]:
    """``{"main": …, "depth": …}``: words of prose on the main path and in the
    marked depth of one page's MyST source."""
    totals = {"main": 0, "depth": 0}
    _walk(_MD.parse(text), totals, in_depth=False)
    return totals


def _walk(tokens: list, totals: dict[str, int], in_depth: bool) -> None:
    further_level = None  # heading level of the open "going further" section
    label = None  # the last (label)= target, for the heading after it
    for token in tokens:
        if token.type == "myst_target":
            label = token.content
            continue
        if token.type == "heading_open":
            level = int(token.tag[1])
            if further_level is not None and level <= further_level:
                further_level = None
            if label and label.endswith("-further"):
                further_level = level
            label = None
        depth = in_depth or further_level is not None
        bucket = "depth" if depth else "main"
        if token.type == "inline":
            for child in token.children or []:
                if child.type == "text":
                    totals[bucket] += _words(child.content)
                elif child.type in ("code_inline", "math_inline"):
                    totals[bucket] += 1
                elif child.type == "myst_role":
                    totals[bucket] += child.meta.get("name") != "footcite:p"
        elif token.type in ("fence", "colon_fence") and token.info.startswith("{"):
            name, argument, options, content = _split_directive(token.info, token.content)
            if name in NOT_PROSE:
                continue
            aside = depth or "aside" in options.get("class", "").split()
            totals["depth" if aside else "main"] += _words(argument)
            _walk(_MD.parse(content), totals, in_depth=aside)


def pages(lang: str) -> list[Path]:
    """The edition's pages in the order of the table of contents."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    names = [toc["root"], *(chapter["file"] for chapter in toc["chapters"])]
    return [ROOT / "book" / lang / f"{name}.md" for name in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", default="en")
    parser.add_argument("--json", action="store_true", help="print JSON, not a table")
    args = parser.parse_args()
    rows = {path.stem: count(path.read_text()) for path in pages(args.lang)}
    rows["total"] = {k: sum(r[k] for r in rows.values()) for k in ("main", "depth")}
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
        return
    print(f"{'page':18}{'main path':>10}{'depth':>8}")
    for page, r in rows.items():
        print(f"{page:18}{r['main']:>10,}{r['depth']:>8,}")


if __name__ == "__main__":
    main()
