"""A Colab-like run of the derived notebooks, outside the repository (tools/colab_check.py).

CI runs one short page per framework, each in another edition; ``python
tools/colab_check.py`` runs all of them. Also: the comparison it makes catches what
nbval's own run cannot see, and TensorFlow loads without log lines in a plain kernel.
"""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import colab_check

# One short page per framework, each in another edition.
IN_CI = ["fr/pytorch/summary", "pt/tensorflow/resnext", "en/jax/function-classes"]


def notebook(*outputs, tags=()):
    cell = nbformat.v4.new_code_cell("x", execution_count=1, outputs=list(outputs))
    cell.metadata["tags"] = list(tags)
    return nbformat.v4.new_notebook(cells=[cell])


def stream(text, name="stdout"):
    return nbformat.v4.new_output("stream", name=name, text=text)


def test_comparison_follows_nbval():
    stored = notebook(stream("loss 0.41\n"))
    assert colab_check.differences(stored, notebook(stream("loss 0.41\n"))) == []
    # Streams coalesce as nbval coalesces them.
    assert colab_check.differences(stored, notebook(stream("loss "), stream("0.41\n"))) == []
    found = colab_check.differences(stored, notebook(stream("loss 0.41\n"),
                                                     stream("I0000 cudart_stub\n", "stderr")))
    assert len(found) == 1 and "stderr" in found[0] and "cudart_stub" in found[0]
    assert colab_check.differences(stored, notebook(stream("loss 0.40\n")))
    # PNG images are not compared (nbval without --nbdime), cells tagged so are not.
    png = nbformat.v4.new_output("display_data", data={"image/png": "AAAA",
                                                       "text/plain": "<Figure>"})
    other = nbformat.v4.new_output("display_data", data={"image/png": "BBBB",
                                                         "text/plain": "<Figure>"})
    assert colab_check.differences(notebook(png), notebook(other)) == []
    assert colab_check.differences(notebook(stream("a"), tags=["nbval-ignore-output"]),
                                   notebook(stream("b"))) == []
    error = nbformat.v4.new_output("error", ename="ModuleNotFoundError",
                                   evalue="No module named 'd2l_resnet'", traceback=[])
    assert "ModuleNotFoundError" in colab_check.differences(stored, notebook(error))[0]


def test_tensorflow_loads_without_log_lines(tmp_path):
    """In a kernel, what TensorFlow writes to file descriptor 2 lands under the cell."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-c", "import d2l_resnet.tensorflow as t, "
                           "tensorflow as tf; tf.zeros(1); print('ran')"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert proc.stdout == "ran\n"
    assert proc.stderr == ""


@pytest.mark.skipif(not (ROOT / "_build" / "html" / "index.html").exists()
                    and os.environ.get("CI") != "true", reason="needs the built book")
def test_derived_notebooks_run_like_in_colab():
    results = colab_check.check(IN_CI)
    failed = {r["notebook"]: r["output"] for r in results if not r["passed"]}
    assert not failed, failed
    assert [r["notebook"] for r in results] == IN_CI
