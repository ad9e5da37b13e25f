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
    for name in (*THREAD_VARS, "XLA_FLAGS", "PYTEST_XDIST_WORKER_COUNT",
                 "JAX_COMPILATION_CACHE_DIR", "JAX_COMPILATION_CACHE_MAX_SIZE",
                 "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_two_workers_on_two_cores_get_one_thread_each(clean_env):
    clean_env.setattr(os, "cpu_count", lambda: 2)
    bookenv.share_cores(2)
    assert all(os.environ[name] == "1" for name in THREAD_VARS)
    assert "--xla_cpu_multi_thread_eigen=false" in os.environ["XLA_FLAGS"]
    assert "intra_op_parallelism_threads=1" in os.environ["XLA_FLAGS"]


def test_worker_count_comes_from_xdist(clean_env):
    clean_env.setattr(os, "cpu_count", lambda: 8)
    clean_env.setenv("PYTEST_XDIST_WORKER_COUNT", "4")
    bookenv.share_cores()
    assert os.environ["OMP_NUM_THREADS"] == "2"
    assert "intra_op_parallelism_threads=2" in os.environ["XLA_FLAGS"]


def test_one_worker_keeps_the_frameworks_defaults(clean_env):
    bookenv.share_cores(1)
    assert not any(name in os.environ for name in (*THREAD_VARS, "XLA_FLAGS"))


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
