"""The library's type check: mypy, configured in pyproject.toml ([tool.mypy]), passes on
``src/d2l_resnet``, where every function and method is annotated
(``disallow_untyped_defs``). The same check runs as a pre-commit hook."""

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_the_library_type_checks():
    run = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Success: no issues found" in run.stdout


def test_every_function_must_be_typed_and_no_module_is_exempt():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["files"] == ["src/d2l_resnet"]
    assert config["disallow_untyped_defs"] and config["disallow_incomplete_defs"]
    exempt = [o["module"] for o in config.get("overrides", [])
              if o.get("disallow_untyped_defs") is False]
    # The chapter's blocks and models are the family's (#23): no module opts out.
    assert exempt == []
    # No module of ours is skipped: the three framework packages are typed.
    skipped = [o["module"] for o in config.get("overrides", []) if o.get("ignore_errors")]
    assert skipped == []
