"""Environment shared by every process that runs the book's notebooks.

Used by tools/notebooks.py (which executes and stores them) and by book/conftest.py
(``pytest --nbval book/``), so that both run the kernels the same way.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_SUBSET = ROOT.parent / "shared" / "data" / "fashion-mnist-subset"


def share_cores(workers: int | None = None) -> None:
    """Gives each of N processes running at once an equal share of the cores.

    With several notebooks or test workers at once (``pytest -n N`` or
    ``notebooks.py execute --jobs N``), N processes must not each start one thread per
    core and fight over them. The number of workers comes from pytest-xdist's
    environment when not given. Must run before PyTorch, TensorFlow or JAX loads.
    """
    if workers is None:
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                     "TF_NUM_INTEROP_THREADS"):
            os.environ[name] = threads
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_"
                                   f"eigen={'true' if threads != '1' else 'false'} "
                                   f"intra_op_parallelism_threads={threads}").strip()


def configure(workers: int | None = None) -> None:
    """Sets the kernel profile, quiet TensorFlow, the cores' share (``share_cores``), JAX's
    compilation cache and, offline, the local data subset."""
    share_cores(workers)
    # JAX's own persistent compilation cache: the three editions run the same programs
    # (same models, shapes and XLA flags), so the second and third language load what the
    # first compiled instead of compiling again. A size limit turns on the cache's file
    # lock, which kernels running side by side need (without it, one kernel could read
    # an entry another is still writing).
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(ROOT / "_build" / "jax-cache"))
    os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(2**31))
    # Also the programs that compile in under a second (JAX's default threshold): the
    # operations run eagerly, one small program each, when a model is built or its
    # gradients taken outside jit. The gradient norms of the degradation page's four nets
    # took 10.6 s compiling those, 4.5 s reading them back (one core).
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ["IPYTHONDIR"] = str(ROOT / ".ipython")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    if "D2L_RESNET_DATA" not in os.environ and SHARED_SUBSET.is_dir():
        os.environ["D2L_RESNET_DATA"] = str(SHARED_SUBSET)
