"""Builds the three editions of the book, one Jupyter Book 1.x site per language.

    python tools/build_book.py                 every edition, then the landing page
    python tools/build_book.py --lang fr       one edition (plus the landing page)

Each edition is its own Sphinx project (its `language`, search index, figure numbers
and interface strings): book/<lang> is the source folder, its config is the shared
_config.yml with book/<lang>/_config.yml merged over it, and its table of contents is
the shared _toc.yml. Every build runs with -W -n --keep-going. The output is one tree:

    _build/html/index.html        landing page: pick a language (book/landing.html)
    _build/html/{en,pt,fr}/...    the editions

Jupyter Book 1.x reads one config file per build and has no include mechanism, hence
the merge here rather than three full copies of the shared settings.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from d2l_resnet.registry import LANGUAGES

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
EDITIONS = tuple(LANGUAGES)


def merge(base: dict, override: dict) -> dict:
    """Deep merge: mappings are merged key by key, anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def edition_config(lang: str) -> dict:
    base = yaml.safe_load((ROOT / "_config.yml").read_text())
    own = yaml.safe_load((ROOT / "book" / lang / "_config.yml").read_text())
    return merge(base, own)


def build_edition(lang: str, extra: list[str]) -> int:
    config = BUILD / "config" / f"{lang}.yml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(yaml.safe_dump(edition_config(lang), allow_unicode=True,
                                     sort_keys=False))
    work = BUILD / "editions" / lang
    cmd = ["jupyter-book", "build", str(ROOT / "book" / lang), "--config", str(config),
           "--toc", str(ROOT / "_toc.yml"), "--path-output", str(work),
           "-W", "-n", "--keep-going", *extra]
    print("==", " ".join(cmd), flush=True)
    code = subprocess.call(cmd, cwd=ROOT)
    if code:
        return code
    target = BUILD / "html" / lang
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(work / "_build" / "html", target)
    return 0


def write_landing() -> None:
    out = BUILD / "html"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "book" / "landing.html", out / "index.html")
    (out / ".nojekyll").touch()  # GitHub Pages: serve _static/ and _images/ as they are


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lang", action="append", choices=EDITIONS,
                   help="build only this edition (repeatable); default: all")
    p.add_argument("extra", nargs="*", help="more options for jupyter-book build")
    args = p.parse_args(argv)
    failed = []
    for lang in args.lang or EDITIONS:
        start = time.perf_counter()
        if build_edition(lang, args.extra):
            failed.append(lang)
        print(f"== {lang}: {time.perf_counter() - start:.1f} s", flush=True)
    write_landing()
    if failed:
        print(f"build failed for: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
