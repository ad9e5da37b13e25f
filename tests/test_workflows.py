"""The GitHub workflow files are valid (JSON schema of GitHub Actions, vendored in
check-jsonschema, so no network) and the jobs the book promises exist."""

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
    assert "deploy-pages" in str(_load("pages.yml"))
    upstream = _load("upstream.yml")
    assert "schedule" in upstream[True]  # YAML reads the key `on` as True
