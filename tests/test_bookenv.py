"""tools/bookenv.py: how the notebooks' kernels and the test workers share the machine."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import bookenv

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
               "TF_NUM_INTEROP_THREADS")


@pytest.fixture
def clean_env(monkeypatch):
    """The variables bookenv sets, unset (and restored after the test)."""
    for name in (*THREAD_VARS, "XLA_FLAGS", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_WORKER",
                 "JAX_COMPILATION_CACHE_DIR", "JAX_COMPILATION_CACHE_MAX_SIZE",
                 "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"):
        monkeypatch.delenv(name, raising=False)
    pinned = []  # never pin the test process itself
    monkeypatch.setattr(os, "sched_setaffinity", lambda pid, cores: pinned.append(cores),
                        raising=False)
    monkeypatch.pinned = pinned
    return monkeypatch


def test_two_workers_on_two_cores_get_one_thread_each(clean_env):
    clean_env.setattr(bookenv, "usable_cores", lambda: [0, 1])
    bookenv.share_cores(2)
    assert all(os.environ[name] == "1" for name in THREAD_VARS)
    assert "--xla_cpu_multi_thread_eigen=false" in os.environ["XLA_FLAGS"]
    assert "intra_op_parallelism_threads=1" in os.environ["XLA_FLAGS"]


def test_worker_count_comes_from_xdist(clean_env):
    clean_env.setattr(bookenv, "usable_cores", lambda: list(range(8)))
    clean_env.setenv("PYTEST_XDIST_WORKER_COUNT", "4")
    bookenv.share_cores()
    assert os.environ["OMP_NUM_THREADS"] == "2"
    assert "intra_op_parallelism_threads=2" in os.environ["XLA_FLAGS"]
    assert clean_env.pinned == []  # not a worker (the controller): not pinned


def test_an_xdist_worker_pins_itself_to_its_own_cores(clean_env):
    clean_env.setattr(bookenv, "usable_cores", lambda: [0, 1, 2, 3, 4, 5])
    clean_env.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    clean_env.setenv("PYTEST_XDIST_WORKER", "gw2")
    bookenv.share_cores()
    assert clean_env.pinned == [[4, 5]]
    assert os.environ["TF_NUM_INTRAOP_THREADS"] == "2"


def test_the_shares_are_disjoint_and_equal():
    cores = [0, 2, 4, 6, 8]  # an affinity mask need not start at 0 nor be contiguous
    shares = [bookenv.cores_of(slot, 2, cores) for slot in range(2)]
    assert shares == [[0, 2], [4, 6]]
    assert bookenv.cores_of(3, 2, cores) == [4, 6]  # slots wrap around
    assert bookenv.cores_of(1, 4, [0, 1]) == [0, 1]  # fewer cores than workers: all


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="the OS cannot pin")
def test_a_pinned_worker_starts_kernels_on_its_cores():
    """What the notebook kernels rely on: a process started after the pin inherits it."""
    cores = bookenv.usable_cores()
    program = ("import os, subprocess, sys, bookenv; bookenv.share_cores();"
               "print(subprocess.run([sys.executable, '-c', 'import os;"
               "print(sorted(os.sched_getaffinity(0)))'], capture_output=True, text=True)"
               ".stdout)")
    env = dict(os.environ, PYTEST_XDIST_WORKER_COUNT="2", PYTEST_XDIST_WORKER="gw1",
               PYTHONPATH=str(bookenv.ROOT / "tools"))
    out = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == str(bookenv.cores_of(1, 2, cores))


def test_one_worker_keeps_the_frameworks_defaults(clean_env):
    clean_env.setenv("PYTEST_XDIST_WORKER", "gw0")
    bookenv.share_cores(1)
    assert not any(name in os.environ for name in (*THREAD_VARS, "XLA_FLAGS"))
    assert clean_env.pinned == []


def test_configure_points_jax_at_a_locked_cache_under_build(clean_env):
    bookenv.configure(1)
    assert Path(os.environ["JAX_COMPILATION_CACHE_DIR"]) == bookenv.ROOT / "_build" / "jax-cache"
    assert int(os.environ["JAX_COMPILATION_CACHE_MAX_SIZE"]) > 0  # turns on the file lock


def test_configure_keeps_a_cache_the_user_chose(clean_env, tmp_path):
    clean_env.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path))
    bookenv.configure(1)
    assert os.environ["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path)


PROGRAM = """
import jax, jax.numpy as jnp
from jax._src import monitoring
hits = []
monitoring.register_event_listener(
    lambda event, **kw: hits.append(event) if event.endswith("cache_hits") else None)
f = jax.jit(lambda x: jnp.tanh(x @ x.T).sum())
f(jnp.ones((64, 64))).block_until_ready()
jnp.sin(jnp.ones((3, 5))).block_until_ready()  # eager: a small program, compiled fast
print(len(hits))
"""


def test_a_second_process_loads_what_the_first_compiled(clean_env, tmp_path):
    """What the editions rely on: the second kernel reads the programs from the cache,
    the jitted one and the eager operation's (which compiles in milliseconds)."""
    clean_env.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "cache"))
    bookenv.configure(1)
    env = dict(os.environ)

    def run():
        out = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True,
                             text=True, check=True)
        return int(out.stdout.split()[-1])

    assert run() == 0
    assert any((tmp_path / "cache").glob("*-cache"))
    assert run() >= 2
