"""Environment shared by every process that runs the book's notebooks.

Used by tools/notebooks.py (which executes and stores them) and by book/conftest.py
(``pytest --nbval book/``), so that both run the kernels the same way.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_SUBSET = ROOT.parent / "shared" / "data" / "fashion-mnist-subset"


def usable_cores() -> list[int]:
    """The cores this process may run on (its affinity mask, where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def share_cores(workers: int | None = None) -> None:
    """Gives each of N processes running at once an equal share of the cores.

    With several notebooks or test workers at once (``pytest -n N`` or
    ``notebooks.py execute --jobs N``), N processes must not each start one thread per
    core and fight over them. The number of workers comes from pytest-xdist's
    environment when not given. Must run before PyTorch, TensorFlow or JAX loads.
    A pytest-xdist worker also pins itself, and the kernels it starts, to its own
    cores (``pin``).
    """
    if workers is None:
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        threads = str(max(1, len(usable_cores()) // workers))
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                     "TF_NUM_INTEROP_THREADS"):
            os.environ[name] = threads
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_"
                                   f"eigen={'true' if threads != '1' else 'false'} "
                                   f"intra_op_parallelism_threads={threads}").strip()
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ...
        if worker.startswith("gw") and worker[2:].isdigit():
            pin(int(worker[2:]), workers)


def cores_of(slot: int, workers: int, cores: list[int]) -> list[int]:
    """The cores of worker ``slot`` out of ``workers``: an equal share of ``cores``,
    disjoint from the other workers' shares (all of them with fewer cores than workers)."""
    share = len(cores) // workers
    if share == 0:
        return list(cores)
    slot %= workers
    return list(cores[slot * share:(slot + 1) * share])


def pin(slot: int, workers: int) -> list[int] | None:
    """Pins the calling thread, and the processes it starts from now on (notebook
    kernels), to worker ``slot``'s share of the usable cores. Returns those cores, or
    None where the OS cannot pin (no ``os.sched_setaffinity``).

    The thread-count settings above are not enough for JAX: XLA's CPU runtime keeps a
    thread pool of one thread per core whatever ``intra_op_parallelism_threads`` says
    (a CIFAR ResNet-56 step used 1.55 cores with it). Two such kernels side by side on
    two cores took 251 ms per step, against 225 ms pinned one per core. XLA sizes its
    pool from the cores the process may use, so a pinned kernel starts one thread.
    """
    if not hasattr(os, "sched_setaffinity") or workers <= 1:
        return None
    cores = cores_of(slot, workers, usable_cores())
    os.sched_setaffinity(0, cores)
    return cores


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
