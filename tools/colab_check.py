"""Runs the derived notebooks as a Colab reader would, outside the repository.

    python tools/colab_check.py                          every derived notebook
    python tools/colab_check.py en/pytorch/resnet-model pt/jax/resnext ...

Colab cannot be reached from here, so each notebook runs in a stand-in for it:

- a fresh virtual environment that has PyTorch, TensorFlow, JAX, Flax and Optax (those
  installed beside this checkout, reached through a folder of links that leaves out
  the book's library) but not the book's library: ``import d2l_resnet`` fails there
  before the install cell runs;
- an empty folder outside the repository, a fresh HOME and IPython profile, none of
  the settings the repository's own notebook runs use (tools/bookenv.py): no
  TF_CPP_MIN_LOG_LEVEL, no IPython profile that keeps TensorFlow's C++ log lines out,
  no JAX compilation cache;
- the notebook downloaded over HTTP from the built site, as the page's download
  button serves it (_build/html/<lang>/_notebooks/<framework>/<page>.ipynb);
- its install cell changed in one place: the requirement that names the repository
  (``d2l-resnet @ git+<url>@<branch>``) becomes a wheel built from this checkout, the
  stand-in for the repository; pip runs offline (PIP_NO_INDEX), so the library's own
  dependencies must already be there, as they are on Colab.

Then Jupyter's own client (nbclient) runs the notebook top to bottom in that
environment, and every cell's outputs are compared with the stored ones by nbval's
rule (``comparable``). A framework log line, a missing import or a cell that needs the
repository fails it. Prints one line per notebook and a summary; exits 1 if
any notebook failed.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHARED_SUBSET = ROOT.parent / "shared" / "data" / "fashion-mnist-subset"
REQUIREMENT = re.compile(r'"d2l-resnet @ git\+[^"]+"')

# Settings of the repository's own notebook runs (tools/bookenv.py, tests/conftest.py)
# that a reader's kernel does not have.
NOT_IN_COLAB = ("IPYTHONDIR", "TF_CPP_MIN_LOG_LEVEL", "PYTHONPATH", "MPLBACKEND",
                "JAX_COMPILATION_CACHE_DIR", "JAX_COMPILATION_CACHE_MAX_SIZE",
                "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "VIRTUAL_ENV", "XLA_FLAGS",
                "PYDEVD_DISABLE_FILE_VALIDATION")


def derived_notebooks() -> list[str]:
    """Every derived notebook of the built site, as <lang>/<framework>/<page>."""
    return sorted(p.relative_to(HTML).with_suffix("").as_posix().replace("/_notebooks", "")
                  for p in HTML.glob("*/_notebooks/*/*.ipynb"))


def build_wheel(out: Path) -> Path:
    """A wheel of this checkout: what pip would build from the repository URL."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(ROOT)], check=True)
    return next(out.glob("d2l_resnet-*.whl"))


def frameworks_without_the_library(out: Path) -> Path:
    """A folder of links to this Python's installed packages, minus the book's library.

    The virtual environments reach the frameworks through it (one path in a .pth file,
    so that the .pth files inside it, the library's editable install among them, are
    not run): installing torch, TensorFlow and JAX afresh for every notebook would
    take gigabytes and minutes.
    """
    out.mkdir()
    for folder in site.getsitepackages():
        for entry in Path(folder).iterdir():
            name = entry.name.lower()
            if name.startswith(("d2l_resnet", "__editable__", "d2l-resnet")) or \
                    name.endswith(".pth") or (out / entry.name).exists():
                continue
            (out / entry.name).symlink_to(entry)
    return out


def make_venv(where: Path, frameworks: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    python = where / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "frameworks.pth").write_text(f"{frameworks}\n")
    probe = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(*(bool(u.find_spec(m)) for m in "
         "('torch', 'tensorflow', 'jax', 'flax', 'optax', 'nbclient', 'd2l_resnet')))"],
        capture_output=True, text=True, env=reader_env(where), check=True)
    *frameworks_found, library = probe.stdout.split()
    if "False" in frameworks_found:
        raise SystemExit("the stand-in environment lacks a framework or nbclient")
    if library == "True":
        raise SystemExit("the stand-in environment already has the book's library: "
                         "it would not test the install cell")
    return python


def reader_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in NOT_IN_COLAB and not k.startswith(("PYTEST_", "COV_"))}
    env["HOME"] = str(home)
    env["PIP_NO_INDEX"] = "1"  # offline: the stand-in has what Colab has preinstalled
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if "D2L_RESNET_DATA" not in env and SHARED_SUBSET.is_dir():
        # Colab downloads Fashion-MNIST; this machine has no network, only the subset.
        env["D2L_RESNET_DATA"] = str(SHARED_SUBSET)
    return env


@functools.lru_cache(maxsize=1)
def serve_site() -> str:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}"


def download(name: str, folder: Path) -> Path:
    lang, fw, page = name.split("/")
    url = f"{serve_site()}/{lang}/_notebooks/{fw}/{page}.ipynb"
    target = folder / f"{page}.ipynb"
    with urllib.request.urlopen(url) as response:
        target.write_bytes(response.read())
    return target


def point_install_cell_at(notebook: Path, wheel: Path) -> None:
    nb = json.loads(notebook.read_text())
    cell = nb["cells"][0]
    source = "".join(cell["source"])
    if "install" not in cell["metadata"].get("tags", []) or not REQUIREMENT.search(source):
        raise SystemExit(f"{notebook.name}: the first cell is not the install cell")
    cell["source"] = REQUIREMENT.sub(f'"{wheel}"', source)
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False))


# Runs in the stand-in's Python: executes the notebook as Jupyter (and Colab) do, with
# every output message the kernel sends; writes the executed notebook.
RUNNER = """
import sys, nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
spec = KernelSpecManager().get_kernel_spec("python3")
if spec.argv[0] not in (sys.executable, "python"):
    sys.exit(f"the python3 kernel is {spec.argv[0]}, not this environment's Python")
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=int(sys.argv[3]), kernel_name="python3",
               resources={"metadata": {"path": "."}}).execute()
nbformat.write(nb, sys.argv[2])
"""

# What nbval leaves out of the comparison (nbval/plugin.py, IPyNbFile.skip_compare; PNG
# and JPEG without --nbdime).
SKIP = {"metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
        "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg"}


def comparable(outputs) -> dict:
    """Outputs as nbval compares them: streams coalesced and keyed by their name, the
    keys of each MIME bundle flattened, the skipped keys left out.

    nbval compares a run it makes itself; it cannot compare one that Jupyter made, so
    this mirrors its rule with its own helpers. Why not nbval's run: nbval keeps only
    the messages whose parent is the cell's request, so it never sees what a kernel
    forwards from file descriptor 2 (TensorFlow's C++ log lines), which a reader's
    Jupyter or Colab shows under the cell.
    """
    from nbval.plugin import coalesce_streams, transform_streams_for_comparison

    flat: dict[str, list] = {}
    for output in transform_streams_for_comparison(coalesce_streams(list(outputs))):
        for key, value in output.items():
            if key in SKIP:
                continue
            items = value.items() if key == "data" else [(key, value)]
            for name, item in items:
                if name not in SKIP:
                    flat.setdefault(name, []).append(item)
    return flat


def differences(stored: dict, executed: dict) -> list[str]:
    """Cells whose outputs differ, as nbval would report them."""
    found = []
    for i, (want, got) in enumerate(zip(stored["cells"], executed["cells"])):
        if want["cell_type"] != "code":
            continue
        errors = [o for o in got.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            found.append(f"cell {i}: {errors[0].get('ename')}: {errors[0].get('evalue')}")
        elif "nbval-ignore-output" not in want["metadata"].get("tags", []):
            a, b = comparable(want["outputs"]), comparable(got["outputs"])
            if a != b:
                keys = sorted(set(a) | set(b))
                diff = [k for k in keys if a.get(k) != b.get(k)]
                found.append(f"cell {i}: {', '.join(diff)} differ; stored "
                             f"{ {k: a.get(k) for k in diff} !r:.600}, got "
                             f"{ {k: b.get(k) for k in diff} !r:.600}")
    return found


def run_one(name: str, wheel: Path, frameworks: Path, work: Path,
            timeout: int) -> tuple[bool, float, str]:
    """Runs one notebook in a fresh stand-in; returns (passed, seconds, report)."""
    box = work / name.replace("/", "-")
    box.mkdir(parents=True)
    python = make_venv(box / "venv", frameworks)
    folder = box / "notebook"  # empty, outside the repository
    folder.mkdir()
    notebook = download(name, folder)
    stored = nbformat.reads(notebook.read_text(), as_version=4)
    point_install_cell_at(notebook, wheel)
    executed = box / "executed.ipynb"
    start = time.perf_counter()
    try:
        proc = subprocess.run([str(python), "-c", RUNNER, notebook.name, str(executed),
                               str(timeout)], cwd=folder, env=reader_env(box),
                              capture_output=True, text=True, timeout=timeout * 4)
    except subprocess.TimeoutExpired as err:
        return False, time.perf_counter() - start, f"timed out after {err.timeout} s"
    seconds = time.perf_counter() - start
    if proc.returncode:
        return False, seconds, (proc.stdout + proc.stderr)[-4000:]
    found = differences(stored, nbformat.read(executed, as_version=4))
    return not found, seconds, "\n".join(found)


def check(names: list[str], timeout: int = 600, keep: Path | None = None) -> list[dict]:
    if not (HTML / "index.html").exists():
        raise SystemExit("needs the built book: python tools/build_book.py")
    unknown = sorted(set(names) - set(derived_notebooks()))
    if unknown:
        raise SystemExit(f"no derived notebook {', '.join(unknown)}; they are named "
                         "<lang>/<framework>/<page>, e.g. en/pytorch/resnet-model")
    work = Path(tempfile.mkdtemp(prefix="colab-check-")) if keep is None else keep
    results = []
    try:
        wheel = build_wheel(work / "wheel")
        frameworks = frameworks_without_the_library(work / "frameworks")
        for name in names:
            passed, seconds, output = run_one(name, wheel, frameworks, work, timeout)
            results.append({"notebook": name, "passed": passed, "seconds": round(seconds, 1),
                             "output": output})
            print(f"{'ok  ' if passed else 'FAIL'} {name}: {seconds:.1f} s", flush=True)
            if not passed:
                print(output[-4000:], flush=True)
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*",
                        help="<lang>/<framework>/<page> (default: every derived notebook)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--keep", type=Path, help="keep the environments in this new folder")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True)
    start = time.perf_counter()
    results = check(args.notebooks or derived_notebooks(), args.timeout, args.keep)
    failed = [r["notebook"] for r in results if not r["passed"]]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed "
          f"in {time.perf_counter() - start:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(
            [{k: v for k, v in r.items() if k != "output"} for r in results], indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
