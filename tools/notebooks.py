"""Keeps the book's notebooks in step with their Markdown sources and the library.

    python tools/notebooks.py sources [--check]     paste library classes into the .md cells
    python tools/notebooks.py execute [PAGE.md ...] run pages, store outputs in the .ipynb
    python tools/notebooks.py sync [PAGE.md ...]    prose edits: update .ipynb, keep outputs
    python tools/notebooks.py check                 every .md and .ipynb pair in sync

A code cell tagged with a framework (``pytorch``, ``tensorflow`` or ``jax``, as
``d2l_resnet.registry`` lists them) whose body is ``#@source NAME`` or starts with
``class NAME`` shows that framework's ``d2l_resnet.<package>.NAME`` (``torch``,
``tensorflow``, ``jax``): ``sources`` rewrites it to the library's exact source.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import queue
import re
import sys
import time
from pathlib import Path

import jupytext
import nbformat

from d2l_resnet.registry import FRAMEWORKS

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bookenv

ROOT = bookenv.ROOT
BOOK = ROOT / "book"
MODULES = {tag: f"d2l_resnet.{fw.package}" for tag, fw in FRAMEWORKS.items()}
CELL = re.compile(r"(```\{code-cell\} ipython3\n(?::tags: \[([^\]]*)\]\n)?\n?)(.*?)(\n```)", re.S)
SHOWN = re.compile(r"^(?:#@source (?:[\w.]+\.)?(\w+)|class (\w+)\b)")


def paired_pages() -> list[Path]:
    """Every chapter .md that is a jupytext notebook (has a kernelspec header)."""
    return sorted(p for p in BOOK.glob("*/*.md") if "kernelspec:" in p.read_text()[:500])


def library_source(tag: str, name: str) -> str:
    obj = getattr(importlib.import_module(MODULES[tag]), name)
    return inspect.getsource(obj).rstrip("\n")


def shown_classes(text: str):
    """Yields (match, framework tag, class name) for each cell that shows library code."""
    for m in CELL.finditer(text):
        tags = [t.strip() for t in (m.group(2) or "").split(",")]
        shown = SHOWN.match(m.group(3))
        fw = next((t for t in tags if t in MODULES), None)
        if shown and fw:
            yield m, fw, shown.group(1) or shown.group(2)


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
