"""The GitHub workflow files are valid (JSON schema of GitHub Actions, vendored in
check-jsonschema, so no network) and the jobs the book promises exist."""

import re
import subprocess
import sys
from pathlib import Path

import yaml

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"


def test_workflows_pass_the_linter():
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert len(files) == 4
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema",
         "vendor.github-workflows", *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_linter_rejects_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    step: []\n")
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema",
         "vendor.github-workflows", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0


def _load(name):
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_promised_jobs():
    ci = _load("ci.yml")
    assert "bash .ci/run" in str(ci["jobs"]["cpu"]["steps"])
    gpu = _load("gpu.yml")
    assert "gpu" in gpu["jobs"]["nbval-full"]["runs-on"]
    assert gpu["jobs"]["nbval-full"]["env"]["D2L_RESNET_SIZE"] == "full"
    assert "--nbval book/" in str(gpu["jobs"]["nbval-full"]["steps"])
    assert "actions/cache@v4" in str(gpu["jobs"]["nbval-full"]["steps"])
    assert "python tools/gpu_check.py" in str(gpu["jobs"]["nbval-full"]["steps"])  # see below
    assert "deploy-pages" in str(_load("pages.yml"))
    upstream = _load("upstream.yml")
    assert "schedule" in upstream[True]  # YAML reads the key `on` as True


def _gpu_job():
    return _load("gpu.yml")["jobs"]["nbval-full"]


def _index_of(steps, text):
    return next(i for i, step in enumerate(steps) if text in step.get("run", ""))


def test_gpu_job_installs_the_cuda_builds_then_checks_the_gpu_before_nbval():
    import gpu_check

    job = _gpu_job()
    steps = job["steps"]
    install = steps[_index_of(steps, "jax[cuda12]")]["run"]
    assert job["env"]["TORCH_INDEX"] == gpu_check.TORCH_INDEX
    assert '--extra-index-url "$TORCH_INDEX"' in install
    assert '"torch==$(pin torch)+${TORCH_INDEX##*/}"' in install
    assert '"tensorflow[and-cuda]==$(pin tensorflow)"' in install
    assert '"jax[cuda12]==$(pin jax)"' in install
    # The CUDA builds first; then requirements.txt, constrained to keep them.
    assert install.index("jax[cuda12]") < install.index("-r requirements.txt")
    assert re.search(r"pip install -c \S+ -r requirements\.txt -e \.", install)
    check = _index_of(steps, "python tools/gpu_check.py")
    assert _index_of(steps, "jax[cuda12]") < check < _index_of(steps, "data.download()") \
        < _index_of(steps, "--nbval book/")


def test_gpu_job_pins_are_requirements_pins():
    """The install step's shell function reads the versions gpu_check recommends."""
    import gpu_check

    install = next(s["run"] for s in _gpu_job()["steps"] if "jax[cuda12]" in s.get("run", ""))
    pin = next(line for line in install.splitlines() if line.strip().startswith("pin()"))
    script = f"{pin}\nfor p in torch tensorflow jax jaxlib; do echo \"$p=$(pin $p)\"; done"
    out = subprocess.run(["bash", "-c", script], cwd=WORKFLOWS.parents[1], capture_output=True,
                         text=True, check=True).stdout
    pinned = gpu_check.pins()
    assert out.split() == [f"{p}={pinned[p]}" for p in ("torch", "tensorflow", "jax", "jaxlib")]
