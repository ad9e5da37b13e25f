"""tools/gpu_check.py. On a machine without a GPU it fails every framework with what is
wrong and the fix, at the versions requirements.txt pins; with --cpu-ok it trains the
one step through the library's Trainer on the CPU, in all three frameworks."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

import gpu_check
from d2l_resnet import data

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "gpu_check.py"


def _requirements_pins() -> dict[str, str]:
    """requirements.txt's pins, read here on their own, not by gpu_check.pins."""
    pinned = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name, sep, version = line.split("#")[0].strip().partition("==")
        if sep:
            pinned[name] = version
    return pinned


PINS = _requirements_pins()


def _one_thread_each() -> dict[str, str]:
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
             "TF_NUM_INTEROP_THREADS")
    xla = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    return {**dict.fromkeys(names, "1"),
            "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {xla}".strip()}


@pytest.fixture(scope="module")
def runs():
    """Both command lines, started together: each checks the three frameworks one after
    the other (a process each), so on two cores the pair takes about the time of the
    slower. Each with one thread per framework, as tools/bookenv.py gives each of two
    processes that run at once on two cores."""
    env = {**os.environ, **_one_thread_each()}
    procs = {name: subprocess.Popen([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, args in (("plain", []), ("cpu_ok", ["--cpu-ok"]))}
    return {name: (proc.communicate(timeout=600)[0], proc.returncode)
            for name, proc in procs.items()}


def test_without_a_gpu_each_framework_fails_with_its_fix(runs):
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has an NVIDIA GPU: run tools/gpu_check.py itself")
    out, status = runs["plain"]
    assert status == 1, out
    torch_fix = (f'pip install --extra-index-url {gpu_check.TORCH_INDEX} '
                 f'"torch=={PINS["torch"]}+cu126"')
    expected = {
        "torch": ("torch.cuda.is_available() is False: this torch", "is the CPU wheel",
                  torch_fix),
        "tensorflow": ("tensorflow sees no GPU: its CUDA libraries are not installed",
                       f'pip install "tensorflow[and-cuda]=={PINS["tensorflow"]}"'),
        "jax": ("jax sees only cpu: jaxlib is the CPU build",
                f'pip install "jax[cuda12]=={PINS["jax"]}"'),
    }
    for framework, words in expected.items():
        assert re.search(rf"^{framework} .*FAIL$", out, re.M), out
        block = out.split(f"FAIL {framework}: ", 1)[1].split("\n\n")[0]
        assert all(w in block for w in words), block
        assert "\n     fix: " in block
    assert "gpu_check: 3 of 3 failed: torch, tensorflow, jax" in out
    assert gpu_check.install_command() in out  # all three at once, one set of libraries


def test_cpu_ok_trains_one_step_in_every_framework(runs):
    out, status = runs["cpu_ok"]
    assert status == 0, out
    for framework in gpu_check.FRAMEWORKS:
        line = re.search(rf"^{framework} +(\S+) +(.+?) +(\d+\.\d\d) s  OK(.*)$", out, re.M)
        assert line, out
        version, device, seconds, rest = line.groups()
        assert version.startswith(PINS[framework].split("+")[0])
        if device == "CPU":  # no GPU here: trained on the CPU, and says why not on a GPU
            assert "on the CPU (--cpu-ok), weights on" in rest
            assert re.search(r", weights on (cpu|cpu:0|CPU:0)$", rest), rest
            assert f"note {framework}: trained on the CPU (--cpu-ok): " in out
    assert "trained on the GPU, or the CPU where they see none (--cpu-ok)" in out


def test_recommended_versions_are_requirements_pins():
    assert gpu_check.pins() == {k.lower(): v for k, v in PINS.items()}
    assert gpu_check.gpu_requirements() == {
        "torch": f"torch=={PINS['torch']}+cu126",
        "tensorflow": f"tensorflow[and-cuda]=={PINS['tensorflow']}",
        "jax": f"jax[cuda12]=={PINS['jax']}",
    }
    assert PINS["jax"] == PINS["jaxlib"]  # jax[cuda12] brings the jaxlib of its version


def _fake_children(monkeypatch, scripts: dict[str, str]) -> None:
    """Replaces each framework's child process by a short Python script."""
    monkeypatch.setattr(gpu_check, "_child_command",
                        lambda framework, cpu_ok: [sys.executable, "-c", scripts[framework]])


REPORTS_OK = ("print('gpu_check: {\"version\": \"1.0\", \"device\": \"Fake GPU\"}'); "
              "print('gpu_check: {\"seconds\": 0.5, \"placement\": \"gpu:0\", \"ok\": true, "
              "\"note\": {}}')")


def test_a_hang_fails_at_the_timeout(monkeypatch):
    _fake_children(monkeypatch, {"jax": "import time; print('gpu_check: {\"stage\": "
                                        "\"compiling\"}', flush=True); time.sleep(60)"})
    start = time.perf_counter()
    result = gpu_check.check("jax", timeout=1)
    assert time.perf_counter() - start < 20
    assert (result["ok"], result["kind"]) == (False, "timeout")
    assert "no result within 1 s; it was at: compiling" in result["problem"]


def test_a_crash_is_reported_and_the_others_still_checked(monkeypatch, capsys):
    _fake_children(monkeypatch, {
        "torch": "import sys; sys.stderr.write('Segmentation fault\\n'); sys.exit(139)",
        "jax": REPORTS_OK})
    assert gpu_check.main(["--frameworks", "torch,jax"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^torch +\? .*FAIL$", out, re.M), out
    assert re.search(r"^jax +1\.0 +Fake GPU +0\.50 s  OK, weights on gpu:0$", out, re.M), out
    assert "FAIL torch: its process ended (exit status 139)" in out
    assert "       Segmentation fault" in out
    assert "gpu_check: 1 of 2 failed: torch" in out


def test_all_passing_exits_0(monkeypatch, capsys):
    _fake_children(monkeypatch, dict.fromkeys(gpu_check.FRAMEWORKS, REPORTS_OK))
    assert gpu_check.main([]) == 0
    assert "gpu_check: torch, tensorflow, jax trained on the GPU" in capsys.readouterr().out


def test_unknown_framework_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        gpu_check.main(["--frameworks", "torch,mxnet"])
    assert exit_.value.code == 2
    assert "unknown framework mxnet" in capsys.readouterr().err


def test_random_images_read_as_fashion_mnist(tmp_path):
    arrays = data.load_fashion_mnist(gpu_check.write_random_fashion_mnist(tmp_path),
                                     download=False)
    assert arrays.train_images.shape == arrays.val_images.shape == (gpu_check.BATCH, 28, 28)
    assert arrays.train_labels.max() < 10


def _child_results(monkeypatch, capsys, placement, losses=(2.3, 2.3)) -> dict:
    """Runs the child's logic here, with a framework that sees a GPU and a training step
    (faked) that leaves the weights at ``placement``; returns what it reported."""
    history = types.SimpleNamespace(train_loss=[losses[0]], val_loss=[losses[1]])
    monkeypatch.setitem(gpu_check.PROBES, "torch", lambda: ("9.9", "Fake GPU", {}))
    monkeypatch.setattr(gpu_check, "_train", lambda framework: (None, history, 0.25))
    monkeypatch.setitem(gpu_check.PLACEMENTS, "torch",
                        lambda model: (placement, placement.startswith("cuda")))
    gpu_check.child("torch", cpu_ok=False)
    result = {}
    for line in capsys.readouterr().out.splitlines():
        result.update(json.loads(line.removeprefix(gpu_check.RESULT)))
    return result


def test_weights_left_on_the_cpu_fail_though_a_gpu_is_seen(monkeypatch, capsys):
    assert _child_results(monkeypatch, capsys, "cuda:0")["ok"] is True
    result = _child_results(monkeypatch, capsys, "cpu")
    assert (result["ok"], result["kind"]) == (False, "library")
    assert "sees a GPU (Fake GPU) but the library's Trainer left the weights on cpu" in \
        result["problem"]
    nan = _child_results(monkeypatch, capsys, "cuda:0", losses=(float("nan"), 2.3))
    assert (nan["ok"], nan["kind"]) == (False, "library") and "not finite" in nan["problem"]


def test_placements_read_the_gpu_devices():
    param = types.SimpleNamespace(device="cuda:0")
    assert gpu_check._placement_torch(types.SimpleNamespace(parameters=lambda: [param])) == (
        "cuda:0", True)
    keras_variable = types.SimpleNamespace(value=types.SimpleNamespace(
        device="/job:localhost/replica:0/task:0/device:GPU:0"))
    model = types.SimpleNamespace(trainable_variables=[keras_variable])
    assert gpu_check._placement_tensorflow(model) == ("GPU:0", True)
