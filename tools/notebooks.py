"""Keeps the book's notebooks in step with their Markdown sources and the library.

    python tools/notebooks.py sources [--check]     paste library classes into the .md cells
    python tools/notebooks.py format [--check]      format the library and the page cells
    python tools/notebooks.py execute [PAGE.md ...] run pages, store outputs in the .ipynb
    python tools/notebooks.py sync [PAGE.md ...]    prose edits: update .ipynb, keep outputs
    python tools/notebooks.py check                 every .md and .ipynb pair in sync

A code cell tagged with a framework (``pytorch``, ``tensorflow`` or ``jax``, as
``d2l_resnet.registry`` lists them) whose body is ``#@source NAME`` or starts with
``class NAME`` (or ``def NAME`` of a library function) shows that framework's
``d2l_resnet.<package>.NAME`` (``torch``, ``tensorflow``, ``jax``; a helper that the
package does not export is looked up in its ``blocks`` and ``models``): ``sources``
rewrites it to the library's exact source.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import io
import queue
import re
import subprocess
import sys
import tempfile
import textwrap
import time
import tokenize
from pathlib import Path

import jupytext
import nbformat
import tomllib

from d2l_resnet.registry import FRAMEWORKS

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bookenv

ROOT = bookenv.ROOT
BOOK = ROOT / "book"
MODULES = {tag: f"d2l_resnet.{fw.package}" for tag, fw in FRAMEWORKS.items()}
CELL = re.compile(r"(```\{code-cell\} ipython3\n(?::tags: \[([^\]]*)\]\n)?\n?)(.*?)(\n```)", re.S)
SHOWN = re.compile(r"^(?:#@source (?:[\w.]+\.)?(\w+)|class (\w+)\b|def (\w+)\b)")
# Where a shown name is looked up: the framework package, then the modules that
# hold what it does not export (the helpers that the blocks use).
SHOWN_MODULES = ("", ".blocks", ".models")


def paired_pages() -> list[Path]:
    """Every chapter .md that is a jupytext notebook (has a kernelspec header)."""
    return sorted(p for p in BOOK.glob("*/*.md") if "kernelspec:" in p.read_text()[:500])


def library_object(tag: str, name: str):
    """The library's function or class ``name`` for framework ``tag``, or None."""
    for sub in SHOWN_MODULES:
        obj = getattr(importlib.import_module(MODULES[tag] + sub), name, None)
        if obj is not None:
            return obj
    return None


def library_source(tag: str, name: str) -> str:
    obj = library_object(tag, name)
    if obj is None:
        raise AttributeError(f"{MODULES[tag]} has no {name} to show")
    return inspect.getsource(obj).rstrip("\n")


def shown_classes(text: str):
    """Yields (match, framework tag, class name) for each cell that shows library code."""
    for m in CELL.finditer(text):
        tags = [t.strip() for t in (m.group(2) or "").split(",")]
        shown = SHOWN.match(m.group(3))
        fw = next((t for t in tags if t in MODULES), None)
        if shown and fw:
            marker, cls, func = shown.groups()
            # A page's own function (a cell that starts with def) is not shown
            # library code unless the library has it; a class always is.
            if marker or cls or library_object(fw, func) is not None:
                yield m, fw, marker or cls or func


def sync_sources(check: bool) -> int:
    stale = []
    for page in paired_pages():
        text = page.read_text()
        new, pos = [], 0
        for m, fw, name in shown_classes(text):
            new += [text[pos:m.start(3)], library_source(fw, name)]
            pos = m.end(3)
        new.append(text[pos:])
        new = "".join(new)
        if new != text:
            stale.append(page)
            if not check:
                page.write_text(new)
    for page in stale:
        print(f"{'stale' if check else 'updated'}: {page.relative_to(ROOT)}")
    return 1 if check and stale else 0


def line_length() -> int:
    """The longest code line a page shows: the formatter's setting in pyproject.toml,
    chosen so that a line fits the HTML code block at a 1280-pixel window and the PDF's."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["ruff"]["line-length"]


# A comment that a line may not lose: a pragma for a tool.
PRAGMA = re.compile(r"#\s*(type:|noqa|fmt:|pragma)")


def hoist_comments(code: str, limit: int) -> str:
    """Moves the trailing comment of each line longer than ``limit`` onto lines
    of its own above it, and rewraps a block of comment lines that has a line
    longer than ``limit``.

    ruff format, like black, never moves or wraps a comment: it splits the
    statement instead and leaves the comment after a lone closing bracket.
    Hoisting it first lets the statement stay on one line. Pragmas stay where
    they are; a block with indented lines (a list, a table) is rewrapped line
    by line, so that its layout survives.
    """
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return code  # not Python (ruff format reports it)
    # line number -> column of a comment (a trailing one, or one on its own line)
    comments = {tok.start[0]: tok.start[1] for tok in tokens
                if tok.type == tokenize.COMMENT and not PRAGMA.match(tok.string)}
    lines = code.split("\n")

    def wrap(text: str, indent: str) -> list[str]:
        return textwrap.wrap(text, limit, initial_indent=f"{indent}# ",
                             subsequent_indent=f"{indent}# ", break_long_words=False)

    out: list[str] = []
    i = 0
    while i < len(lines):
        line, col = lines[i], comments.get(i + 1)
        indent = line[:len(line) - len(line.lstrip())]
        if col is not None and line[:col].strip():  # a trailing comment
            if len(line) > limit:
                out += wrap(line[col:].lstrip("#").strip(), indent)
                out.append(line[:col].rstrip())
            else:
                out.append(line)
            i += 1
            continue
        if col is None:
            out.append(line)
            i += 1
            continue
        # A block of comment lines at one indentation, up to an empty "#" line.
        j = i
        while (j < len(lines) and comments.get(j + 1) == len(indent)
               and lines[j].strip() != "#"
               and lines[j][:len(indent)] == indent):
            j += 1
        block = lines[i:j] or [line]
        j = max(j, i + 1)
        if all(len(b) <= limit for b in block):
            out += block
        elif any(b.strip().startswith(("#  ", "# -", "# *")) for b in block):
            for b in block:
                out += wrap(b.strip()[1:].strip(), indent) if len(b) > limit else [b]
        else:
            out += wrap(" ".join(b.strip()[1:].strip() for b in block), indent)
        i = j
    return "\n".join(out)


def library_files() -> list[Path]:
    return sorted((ROOT / "src" / "d2l_resnet").rglob("*.py"))


def format_code(check: bool) -> int:
    """Formats the code a reader sees: the library and every code cell of the
    pages except those that show library code (``sources`` pastes those).

    Trailing comments of over-long lines go on a line of their own
    (:func:`hoist_comments`), then ``ruff format`` runs at pyproject's line
    length. ruff formats Python files and notebooks, not the MyST Markdown the
    pages are kept in, so each cell goes through a file of its own, all in one
    ruff run.
    """
    limit = line_length()
    with tempfile.TemporaryDirectory() as tmp:
        # (file whose text changes, where in that text, the code, its copy)
        items: list[tuple[Path, tuple[int, int], str, Path]] = []
        for path in library_files():
            code = path.read_text()
            copy = Path(tmp) / f"lib{len(items)}.py"
            copy.write_text(hoist_comments(code, limit))
            items.append((path, (0, len(code)), code, copy))
        for page in paired_pages():
            text = page.read_text()
            shown = {m.start() for m, _, _ in shown_classes(text)}
            for m in CELL.finditer(text):
                if m.start() not in shown:
                    copy = Path(tmp) / f"cell{len(items)}.py"
                    copy.write_text(hoist_comments(m.group(3), limit) + "\n")
                    items.append((page, m.span(3), m.group(3), copy))
        ruff = subprocess.run(
            [sys.executable, "-m", "ruff", "format", "--quiet", "--no-cache",
             "--config", str(ROOT / "pyproject.toml"), tmp],
            capture_output=True, text=True)
        if ruff.returncode:
            sys.exit(f"ruff format failed:\n{ruff.stderr}")
        edits: dict[Path, list[tuple[tuple[int, int], str]]] = {}
        for path, span, code, copy in items:
            new = copy.read_text()
            if path.suffix == ".md":
                new = new.rstrip("\n")
            if new != code:
                edits.setdefault(path, []).append((span, new))
    for path, changes in edits.items():
        print(f"{'unformatted' if check else 'formatted'}: {path.relative_to(ROOT)}"
              + (f" ({len(changes)} cells)" if path.suffix == ".md" else ""))
        if not check:
            text, out, pos = path.read_text(), [], 0
            for (start, end), new in changes:
                out += [text[pos:start], new]
                pos = end
            path.write_text("".join(out) + text[pos:])
    return 1 if check and edits else 0


def execute_one(page: Path, timeout: int) -> str:
    from nbclient import NotebookClient

    nb = jupytext.read(page)
    start = time.perf_counter()
    # coalesce_streams: one stdout output per cell, not as many as the kernel happened
    # to flush, so that a re-run stores the same outputs (nbval compares them joined).
    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                   coalesce_streams=True,
                   resources={"metadata": {"path": str(page.parent)}}).execute()
    clean(nb)
    jupytext.write(nb, page.with_suffix(".ipynb"), fmt="ipynb")
    return f"executed {page.relative_to(ROOT)} in {time.perf_counter() - start:.0f} s"


def execute(pages: list[Path], timeout: int, jobs: int = 1) -> None:
    """Runs each page top to bottom in a fresh kernel and stores the outputs; with
    jobs > 1, that many pages at once (each kernel gets its share of the cores, the
    same share as under ``pytest --nbval -n jobs``)."""
    from concurrent.futures import ThreadPoolExecutor

    bookenv.configure(workers=jobs)
    notebooks = set(paired_pages())
    todo = []
    for page in pages:
        if page in notebooks:
            todo.append(page)
        else:
            print(f"skipped {page.relative_to(ROOT)}: not a notebook page")
    # Threads suffice: each notebook runs in its own kernel process. Each thread holds
    # one of the jobs' slots and pins itself to that slot's cores before it starts a
    # kernel, which inherits them (as a pytest-xdist worker's kernels do).
    slots = queue.SimpleQueue()
    for slot in range(jobs):
        slots.put(slot)

    def run(page):
        slot = slots.get()
        try:
            bookenv.pin(slot, jobs)
            return execute_one(page, timeout)
        finally:
            slots.put(slot)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for line in pool.map(run, todo):
            print(line, flush=True)


def sync(pages: list[Path]) -> int:
    """Copies .md edits into the .ipynb, keeping the outputs of unchanged code cells.

    For prose edits only: a code cell whose source changed loses its outputs and is
    reported; run ``execute`` on that page.
    """
    from jupytext.combine import combine_inputs_with_outputs

    stale = 0
    notebooks = set(paired_pages())
    for page in pages:
        if page not in notebooks:
            print(f"skipped {page.relative_to(ROOT)}: not a notebook page")
            continue
        twin = page.with_suffix(".ipynb")
        stored = nbformat.read(twin, as_version=4)
        before = {c.source for c in stored.cells if c.cell_type == "code"}
        combined = combine_inputs_with_outputs(jupytext.read(page), stored)
        clean(combined)
        jupytext.write(combined, twin, fmt="ipynb")
        changed = [c for c in combined.cells if c.cell_type == "code" and c.source not in before]
        if changed:
            stale += 1
            print(f"{page.relative_to(ROOT)}: {len(changed)} code cell(s) changed: execute it")
    return 1 if stale else 0


def clean(nb) -> None:
    """Drops what differs between machines and runs: timings, widget state, cell ids."""
    nb.metadata.pop("widgets", None)
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        cell["id"] = f"cell-{i}"
        if cell.cell_type == "code":
            # Execution counts stay: nbval treats a cell without one as never run. In a
            # fresh kernel they are 1, 2, 3... and do not vary between runs.
            for out in cell.outputs:
                out.get("metadata", {}).pop("transient", None)


def out_of_sync() -> list[str]:
    """Pages whose .md and .ipynb differ in cells (type, source or tags), or lack a twin."""
    problems = []
    for page in paired_pages():
        twin = page.with_suffix(".ipynb")
        if not twin.exists():
            problems.append(f"{page.relative_to(ROOT)}: no {twin.name}")
            continue
        md = jupytext.read(page)
        nb = nbformat.read(twin, as_version=4)
        a = [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in md.cells]
        b = [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells]
        if a != b:
            first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            problems.append(f"{page.relative_to(ROOT)}: cell {first} differs from {twin.name}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    src = sub.add_parser("sources", help="paste library classes into the .md cells")
    src.add_argument("--check", action="store_true", help="only report stale cells")
    fmt = sub.add_parser("format", help="format the library and the pages' code cells")
    fmt.add_argument("--check", action="store_true", help="only report what would change")
    ex = sub.add_parser("execute", help="run pages and store their outputs")
    ex.add_argument("pages", nargs="*", type=Path, help="default: every chapter page")
    ex.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    ex.add_argument("--jobs", type=int, default=1, help="pages run at once (default 1)")
    sy = sub.add_parser("sync", help="update .ipynb from prose edits, keeping outputs")
    sy.add_argument("pages", nargs="*", type=Path, help="default: every chapter page")
    sub.add_parser("check", help="every .md and .ipynb pair in sync")
    args = parser.parse_args(argv)
    if args.command == "sources":
        return sync_sources(args.check)
    if args.command == "format":
        return format_code(args.check)
    if args.command == "execute":
        execute([p.resolve() for p in args.pages] or paired_pages(), args.timeout, args.jobs)
        return 0
    if args.command == "sync":
        return sync([p.resolve() for p in args.pages] or paired_pages())
    problems = out_of_sync()
    print("\n".join(problems) or "all pages in sync")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
