"""Lays out the derived notebooks as the branch Colab opens them from.

    python tools/notebooks_branch.py OUT

Copies _build/html/<lang>/_notebooks/<framework>/<page>.ipynb (written by the HTML
build, _ext/colab_notebooks.py) to OUT/<lang>/<framework>/<page>.ipynb, the paths of
the pages' Colab links, with a README saying where they come from. The Pages workflow
(.github/workflows/pages.yml) commits OUT as the branch ``book_notebooks_branch`` of
_config.yml, replacing what was there: the branch holds build output, no history.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_book

HTML = build_book.BUILD / "html"


def branch_name() -> str:
    return build_book.edition_config("en")["sphinx"]["config"]["book_notebooks_branch"]


def lay_out(out: Path) -> list[Path]:
    notebooks = sorted(HTML.glob("*/_notebooks/*/*.ipynb"))
    if not notebooks:
        raise SystemExit("no derived notebooks: build the book first (tools/build_book.py)")
    if out.exists():
        shutil.rmtree(out)
    written = []
    for nb in notebooks:
        lang, fw, name = nb.parts[-4], nb.parts[-2], nb.name
        target = out / lang / fw / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(nb, target)
        written.append(target)
    config = build_book.edition_config("en")
    (out / "README.md").write_text(
        f"# Notebooks of *{config['title']}*\n\n"
        "One notebook per edition, framework and page, for Colab and Jupyter: "
        "`<lang>/<framework>/<page>.ipynb`. They are written by the book's build from "
        f"the pages of {config['repository']['url']} (branch "
        f"`{config['repository'].get('branch', 'main')}`) and replaced on every "
        "publication: edit the pages there, not these files.\n")
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write (replaced)")
    args = parser.parse_args(argv)
    written = lay_out(args.out)
    print(f"{len(written)} notebooks in {args.out} for branch {branch_name()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
