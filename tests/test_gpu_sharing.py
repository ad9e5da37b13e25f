"""``import d2l_resnet`` lets PyTorch, TensorFlow and JAX share one GPU in one kernel:
it sets the two memory variables (a reader's own values win), imports no framework,
and JAX still runs on a CPU. Importing d2l_resnet.jax warns when the setting came late."""

import json
import os
import subprocess
import sys
import warnings

import pytest

import d2l_resnet

VARIABLES = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
FRAMEWORKS = ("torch", "tensorflow", "jax", "jaxlib", "flax", "optax", "keras")
# Appended to a snippet: prints the variables and the frameworks loaded, as JSON.
REPORT = ("import json, os, sys; print(json.dumps({'env': {k: os.environ.get(k) for k in "
          f"{sorted(VARIABLES)!r}}}, 'loaded': sorted(set({FRAMEWORKS!r}) & set(sys.modules))}}))")


def _run(code: str, **env) -> dict:
    """Runs ``code`` in a new Python without the two variables (plus ``env``); returns
    the JSON its last line prints."""
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    clean.update(env)
    proc = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_import_sets_both_variables_and_imports_no_framework():
    result = _run("import d2l_resnet; " + REPORT)
    assert result == {"env": VARIABLES, "loaded": []}
    assert d2l_resnet.GPU_SHARING == VARIABLES


def test_a_readers_own_values_win():
    mine = {"XLA_PYTHON_CLIENT_PREALLOCATE": "true", "TF_FORCE_GPU_ALLOW_GROWTH": "false"}
    assert _run("import d2l_resnet; " + REPORT, **mine)["env"] == mine


def test_jax_still_runs_on_the_cpu():
    result = _run("import json, os, d2l_resnet, jax; x = jax.numpy.ones(1) + 1; "
                  "print(json.dumps({'value': float(x[0]), 'platform': jax.devices()[0].platform, "
                  "'late': d2l_resnet._jax_started_first, "
                  "'env': os.environ['XLA_PYTHON_CLIENT_PREALLOCATE']}))")
    assert result == {"value": 2.0, "platform": "cpu", "late": False, "env": "false"}


# JAX started before d2l_resnet: noticed, but no warning on a CPU, where nothing was taken.
LATE = ("import json, warnings, jax; jax.numpy.ones(1); import d2l_resnet; "
        "late = d2l_resnet._jax_started_first\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import d2l_resnet.jax\n"
        "print(json.dumps({'late': late, 'warned': [str(w.message) for w in caught "
        "if 'PREALLOCATE' in str(w.message)]}))")


@pytest.mark.parametrize("env,late", [({}, True), ({"XLA_PYTHON_CLIENT_PREALLOCATE": "true"},
                                                   False)])
def test_jax_started_first_is_noticed(env, late):
    assert _run(LATE, **env) == {"late": late, "warned": []}


def test_d2l_resnet_jax_warns_when_jax_took_the_gpu_first(monkeypatch):
    import d2l_resnet.jax as d2l_jax

    monkeypatch.setattr(d2l_resnet, "_jax_started_first", True)
    monkeypatch.setattr(d2l_jax, "gpu_available", lambda: True)
    with pytest.warns(RuntimeWarning, match=r"before d2l_resnet was imported.*Restart the kernel"):
        d2l_jax._warn_if_preallocated()
    for started_first, gpu in ((True, False), (False, True)):
        monkeypatch.setattr(d2l_resnet, "_jax_started_first", started_first)
        monkeypatch.setattr(d2l_jax, "gpu_available", lambda gpu=gpu: gpu)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            d2l_jax._warn_if_preallocated()
