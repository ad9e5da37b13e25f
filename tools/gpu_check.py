"""Checks that PyTorch, TensorFlow and JAX each see the GPU and train on it.

    python tools/gpu_check.py                            all three frameworks
    python tools/gpu_check.py --frameworks torch,jax     a subset
    python tools/gpu_check.py --cpu-ok                   no GPU: train on the CPU instead

Each framework is checked in a process of its own, so that a crash, a hang or an import
error in one is reported while the others are still checked, and so that their GPU
memory settings cannot interfere. In each process the check

1. imports ``d2l_resnet`` (as every notebook does first), then the framework, and asks
   whether the framework sees a GPU: ``torch.cuda.is_available()``,
   ``tf.config.list_physical_devices("GPU")``, ``jax.devices()``;
2. trains a small ResNet (the stem and one residual block) for one step on 8 random
   images and evaluates it once, through the library's own loader (``FashionMNIST``
   reading random IDX files, resized to 32x32) and ``Trainer`` with its defaults: its
   choice of device, mixed precision and compilation;
3. checks that the weights live on the GPU and that the losses are finite.

It prints one line per framework (version, device, time of that fit, compilation
included, OK or FAIL) and, for each failure, what is wrong and the fix, with the
versions pinned in requirements.txt. Exits 1 if any framework failed. ``--timeout``
bounds each framework's process, so that a hang fails instead of blocking the rest.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements.txt"
FRAMEWORKS = ("torch", "tensorflow", "jax")
# PyTorch 2.13 is built for CUDA 12.6, 13.0 and 13.2; PyPI's wheel is the CUDA 13.0 one.
# JAX (jax[cuda12]) and TensorFlow (tensorflow[and-cuda]) load CUDA 12 libraries from
# pip packages; the CUDA 12.6 torch depends on the same packages, so the three frameworks
# in one kernel load one cuDNN and one cuBLAS. .github/workflows/gpu.yml uses this index.
TORCH_INDEX = "https://download.pytorch.org/whl/cu126"
DEFAULT_TIMEOUT = 300.0
# the stem and one residual block (a d2l_resnet Variant): every kind of layer, little
# work
ONE_BLOCK = dict(name="one-block", block="basic", depths=(1,), widths=(64,))
BATCH, RESIZE = 8, (32, 32)
RESULT = "gpu_check: "  # starts the child's result lines on its stdout


def pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    """The exact pins (``name==version``) of requirements.txt, by lower-case name."""
    found = {}
    for line in path.read_text().splitlines():
        if match := re.match(r"\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s;#]+)", line):
            found[match.group(1).lower()] = match.group(2)
    return found


def gpu_requirements(pinned: dict[str, str] | None = None) -> dict[str, str]:
    """The pip requirement of each framework's CUDA build, at requirements.txt's version."""
    pinned = pins() if pinned is None else pinned
    cuda = TORCH_INDEX.rstrip("/").rsplit("/", 1)[1]  # the wheel's local version: cu126
    return {"torch": f"torch=={pinned['torch']}+{cuda}",
            "tensorflow": f"tensorflow[and-cuda]=={pinned['tensorflow']}",
            "jax": f"jax[cuda12]=={pinned['jax']}"}


def install_command(frameworks=FRAMEWORKS) -> str:
    """The pip command that installs the CUDA builds of ``frameworks``, in one go."""
    requirements = gpu_requirements()
    index = f" --extra-index-url {TORCH_INDEX}" if "torch" in frameworks else ""
    return "pip install" + index + "".join(f' "{requirements[f]}"' for f in frameworks)


# ----------------------------------------------------------------------------------------
# The child: one framework, in its own process. It reports by printing result lines.


def _report(**fields) -> None:
    print(RESULT + json.dumps(fields), flush=True)


def _missing(dist: str, extra: str) -> list[str]:
    """The requirements of ``dist[extra]`` that are not installed."""
    missing = []
    for requirement in importlib.metadata.requires(dist) or []:
        if not re.search(rf"""extra\s*==\s*["']{re.escape(extra)}["']""", requirement):
            continue
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def _installed(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _probe_torch() -> tuple[str, str | None, dict]:
    import torch

    if torch.cuda.is_available():
        return torch.__version__, torch.cuda.get_device_name(0), {}
    built = torch.version.cuda or getattr(torch.version, "hip", None)
    platform = "CUDA" if torch.version.cuda else "ROCm"
    if built is None:
        return torch.__version__, None, dict(
            kind="build",
            problem=f"torch.cuda.is_available() is False: this torch ({torch.__version__}) "
                    f"is the CPU wheel",
            fix=f"install the CUDA wheel from the PyTorch index: {install_command(['torch'])}")
    return torch.__version__, None, dict(
        kind="device",
        problem=f"torch.cuda.is_available() is False although this torch "
                f"({torch.__version__}) is built for {platform} {built}: it finds no usable GPU",
        fix=f"check that nvidia-smi lists the GPU, that the driver supports {platform} {built}, "
            f"and that CUDA_VISIBLE_DEVICES does not hide it")


def _probe_tensorflow() -> tuple[str, str | None, dict]:
    from d2l_resnet.runtime import load_tensorflow

    load_tensorflow()  # imports TensorFlow as the library does, without its C++ log lines
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return tf.__version__, details.get("device_name", gpus[0].name), {}
    fix = f'install TensorFlow with its CUDA libraries: {install_command(["tensorflow"])}'
    if not tf.sysconfig.get_build_info().get("is_cuda_build"):
        problem = f"tensorflow sees no GPU: this tensorflow ({tf.__version__}) is built " \
                  f"without CUDA"
        return tf.__version__, None, dict(kind="build", problem=problem,
                                          fix=fix + " (on Linux x86-64 or aarch64)")
    if missing := _missing("tensorflow", "and-cuda"):
        problem = (f"tensorflow sees no GPU: its CUDA libraries are not installed "
                   f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})")
        return tf.__version__, None, dict(kind="build", problem=problem, fix=fix)
    return tf.__version__, None, dict(
        kind="device",
        problem="tensorflow sees no GPU although its CUDA libraries (tensorflow[and-cuda]) "
                "are installed",
        fix="check that nvidia-smi lists the GPU and that CUDA_VISIBLE_DEVICES does not hide "
            "it; TensorFlow logs its reason with TF_CPP_MIN_LOG_LEVEL=0 python -c \"import "
            "tensorflow as tf; tf.config.list_physical_devices('GPU')\"")


def _probe_jax() -> tuple[str, str | None, dict]:
    import jax

    try:
        devices, reason = jax.devices(), "no CUDA device"
    except Exception as err:  # JAX_PLATFORMS=cuda without a usable plugin: not only RuntimeError
        devices, reason = [], (str(err).strip().splitlines() or [type(err).__name__])[0]
    gpus = [d for d in devices if d.platform in ("gpu", "cuda")]
    if gpus:
        return jax.__version__, gpus[0].device_kind, {}
    seen = f"only {', '.join(sorted({d.platform for d in devices}))}" if devices else \
        f"no device ({reason})"
    platforms = os.environ.get("JAX_PLATFORMS", "")
    if platforms and not {"cuda", "gpu"} & set(platforms.lower().split(",")):
        return jax.__version__, None, dict(
            kind="device", problem=f"jax sees {seen}: JAX_PLATFORMS={platforms} leaves the "
                                   f"GPU out", fix="unset JAX_PLATFORMS")
    plugin = _installed("jax-cuda12-plugin") or _installed("jax-cuda13-plugin")
    if plugin is None:
        return jax.__version__, None, dict(
            kind="build",
            problem=f"jax sees {seen}: jaxlib is the CPU build (no CUDA plugin, "
                    f"jax-cuda12-plugin, is installed)",
            fix=f"install JAX's CUDA plugin at jax's version: {install_command(['jax'])}")
    if devices:
        try:
            jax.devices("cuda")
        except RuntimeError as err:  # why the plugin did not start
            reason = (str(err).strip().splitlines() or [reason])[0]
    return jax.__version__, None, dict(
        kind="device",
        problem=f"jax sees {seen} although its CUDA plugin ({plugin}) is installed: {reason}",
        fix=f"check that nvidia-smi lists the GPU and that CUDA_VISIBLE_DEVICES does not hide "
            f"it; the plugin must match jax {jax.__version__}: {install_command(['jax'])}")


def _placement_torch(model) -> tuple[str, bool]:
    where = sorted({str(p.device) for p in model.parameters()})
    return ", ".join(where), all(w.startswith("cuda") for w in where)


def _placement_tensorflow(model) -> tuple[str, bool]:
    def device(variable):  # a Keras 3 variable keeps its TensorFlow variable in .value
        value = getattr(variable, "value", None)
        return value.device if hasattr(value, "device") else variable.device

    where = sorted({device(v).rsplit("device:", 1)[-1] for v in model.trainable_variables})
    return ", ".join(where), all(w.startswith("GPU") for w in where)


def _placement_jax(model) -> tuple[str, bool]:
    import jax
    from flax import nnx

    where = sorted({f"{d.platform}:{d.id}" for leaf in jax.tree.leaves(nnx.state(model))
                    for d in leaf.devices()})
    return ", ".join(where), all(w.split(":")[0] in ("gpu", "cuda") for w in where)


PROBES = {"torch": _probe_torch, "tensorflow": _probe_tensorflow, "jax": _probe_jax}
PLACEMENTS = {"torch": _placement_torch, "tensorflow": _placement_tensorflow,
              "jax": _placement_jax}


def write_random_fashion_mnist(root: Path, num_train: int = BATCH, num_val: int = BATCH,
                               seed: int = 0) -> Path:
    """Random 28x28 images and labels in the four Fashion-MNIST files (gzipped IDX), which
    the library's loaders read as they read the real ones. Returns ``root``."""
    import numpy as np

    from d2l_resnet import data

    rng = np.random.default_rng(seed)
    for images, labels, n in ((data.TRAIN_IMAGES, data.TRAIN_LABELS, num_train),
                              (data.VAL_IMAGES, data.VAL_LABELS, num_val)):
        for name, array in ((images, rng.integers(0, 256, (n, *data.IMAGE_SHAPE))),
                            (labels, rng.integers(0, len(data.TEXT_LABELS), n))):
            array = array.astype(np.uint8)
            header = (0x0800 | array.ndim).to_bytes(4, "big") + b"".join(
                d.to_bytes(4, "big") for d in array.shape)
            (root / name).write_bytes(gzip.compress(header + array.tobytes(), mtime=0))
    return root


def _train(framework: str) -> tuple[object, object, float]:
    lib = importlib.import_module(f"d2l_resnet.{framework}")
    from d2l_resnet.variants import Variant

    lib.seed_everything(0)
    with tempfile.TemporaryDirectory() as tmp:
        data = lib.FashionMNIST(batch_size=BATCH, resize=RESIZE, download=False,
                                root=write_random_fashion_mnist(Path(tmp)))
    model = lib.ResNet(Variant(**ONE_BLOCK), num_classes=10, in_channels=1, lr=0.05)
    start = time.perf_counter()
    history = lib.Trainer(max_epochs=1, plot=False, progress=False).fit(model, data)
    return model, history, time.perf_counter() - start


def child(framework: str, cpu_ok: bool) -> None:
    """Checks one framework in this process; prints result lines for ``check`` to read."""
    stage = "import d2l_resnet"
    try:
        sys.path.insert(0, str(ROOT / "src"))  # this checkout's library
        import d2l_resnet  # noqa: F401  (first, as in the notebooks: the GPU settings)

        stage = f"import {framework} and look for a GPU"
        _report(stage=stage)
        try:
            version, gpu, diagnosis = PROBES[framework]()
        except ImportError as err:
            _report(ok=False, kind="build", problem=f"{framework} cannot be imported: {err}",
                    fix=install_command([framework]))
            return
        _report(version=version, device=gpu or "CPU")
        if gpu is None and not cpu_ok:
            _report(ok=False, **diagnosis)
            return
        stage = "train one step with the library's Trainer"
        _report(stage=stage)
        model, history, seconds = _train(framework)
        where, on_gpu = PLACEMENTS[framework](model)
        losses = (history.train_loss[-1], history.val_loss[-1])
        _report(seconds=seconds, placement=where)
        if gpu is not None and not on_gpu:
            _report(ok=False, kind="library",
                    problem=f"{framework} sees a GPU ({gpu}) but the library's Trainer left "
                            f"the weights on {where}",
                    fix=f"a bug in d2l_resnet.{framework}: its try_gpu() or Trainer chose "
                        f"the wrong device")
        elif not all(math.isfinite(v) for v in losses):
            _report(ok=False, kind="library",
                    problem=f"the step ran on {where} but its losses are not finite: "
                            f"training {losses[0]}, validation {losses[1]}",
                    fix=f"a numerical bug on this device (mixed precision?) in "
                        f"d2l_resnet.{framework}'s Trainer")
        else:
            _report(ok=True, note=diagnosis)  # on the CPU: why not on the GPU
    except BaseException as err:  # reported, with where it happened; the traceback to stderr
        traceback.print_exc()
        first = (str(err).strip().splitlines() or [""])[0]
        _report(ok=False, kind="error", problem=f"{type(err).__name__} during: {stage}: {first}",
                fix="see its last lines of output below")


# ----------------------------------------------------------------------------------------
# The parent: one child process per framework.


def _child_command(framework: str, cpu_ok: bool) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", framework,
            *(["--cpu-ok"] if cpu_ok else [])]


def _text(output) -> str:
    if isinstance(output, bytes):  # what TimeoutExpired holds, even in text mode
        return output.decode(errors="replace")
    return output or ""


def check(framework: str, timeout: float = DEFAULT_TIMEOUT, cpu_ok: bool = False) -> dict:
    """Runs the check of one framework in a new process, for at most ``timeout`` seconds.

    Returns its results: ``ok``; ``version``, ``device``, ``seconds`` where it got that
    far; and, where it failed, ``kind``, ``problem`` and ``fix``.
    """
    result = {"framework": framework, "version": "?", "device": "?", "stage": "start"}
    try:
        proc = subprocess.run(_child_command(framework, cpu_ok), capture_output=True,
                              text=True, timeout=timeout, cwd=ROOT)
        out, err, status = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as expired:
        out, err, status = _text(expired.stdout), _text(expired.stderr), None
    for line in out.splitlines():
        if line.startswith(RESULT):
            result.update(json.loads(line[len(RESULT):]))
    result["stderr"] = err
    if status is None:
        result.update(
            ok=False, kind="timeout",
            problem=f"no result within {timeout:g} s; it was at: {result['stage']}",
            fix=f"run it alone with a longer --timeout to tell a hang from a slow start "
                f"(python tools/gpu_check.py --frameworks {framework} --timeout 1800); "
                f"nvidia-smi shows whether the GPU is busy or held by another process")
    elif "ok" not in result:
        result.update(
            ok=False, kind="crash",
            problem=f"its process ended (exit status {status}) during: {result['stage']}",
            fix="see its last lines of output below")
    return result


def _line(result: dict) -> str:
    seconds = f"{result['seconds']:.2f} s" if "seconds" in result else "-"
    status = "FAIL"
    if result["ok"]:
        where = " on the CPU (--cpu-ok)" if result.get("note") else ""
        status = f"OK{where}, weights on {result['placement']}"
    return (f"{result['framework']:<11} {result['version']:<16} {result['device'][:30]:<30} "
            f"{seconds:>9}  {status}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                        help="comma-separated subset of torch,tensorflow,jax (default: all)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds each framework may take (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--cpu-ok", action="store_true",
                        help="where a framework sees no GPU, train on the CPU instead of "
                             "failing (tests the training step on a machine without a GPU)")
    parser.add_argument("--child", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.cpu_ok)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # skips the framework's teardown: 0.6-1.2 s here, and it checks nothing
    aliases = {"pytorch": "torch", "tf": "tensorflow"}
    frameworks = [aliases.get(f.strip().lower(), f.strip().lower())
                  for f in args.frameworks.split(",") if f.strip()]
    if unknown := [f for f in frameworks if f not in FRAMEWORKS]:
        parser.error(f"unknown framework {', '.join(unknown)}; choose from "
                     f"{', '.join(FRAMEWORKS)}")

    print(f"{'framework':<11} {'version':<16} {'device':<30} {'1st step':>9}  result")
    results = []
    for framework in frameworks:
        results.append(check(framework, args.timeout, args.cpu_ok))
        print(_line(results[-1]), flush=True)
    print("(1st step: Trainer.fit of one training step and one evaluation, compilation "
          "included)")
    failed = [r for r in results if not r["ok"]]
    for r in results:
        if r["ok"] and r.get("note"):
            print(f"\nnote {r['framework']}: trained on the CPU (--cpu-ok): "
                  f"{r['note']['problem']}\n     fix: {r['note']['fix']}")
    for r in failed:
        print(f"\nFAIL {r['framework']}: {r['problem']}\n     fix: {r['fix']}")
        if r["kind"] in ("error", "crash", "timeout") and r["stderr"].strip():
            tail = r["stderr"].rstrip().splitlines()[-12:]
            print("     its last lines of output:\n" + "\n".join(f"       {t}" for t in tail))
    if any(r["kind"] == "build" for r in failed):
        print(f"\nAll three CUDA builds at the pinned versions, in one resolution (one set of "
              f"CUDA 12 libraries):\n  {install_command()}")
    if failed:
        print(f"\ngpu_check: {len(failed)} of {len(results)} failed: "
              f"{', '.join(r['framework'] for r in failed)}")
        return 1
    where = "the GPU" if not any(r.get("note") for r in results) else \
        "the GPU, or the CPU where they see none (--cpu-ok)"
    print(f"\ngpu_check: {', '.join(frameworks)} trained on {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
