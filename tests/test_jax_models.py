"""What only the JAX package has to show: reproducible weights from the library's
random keys, no import of the other frameworks, and its max-pooling; the blocks' and
models' behaviour is tested for all three frameworks in test_models.py."""

import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp

from d2l_resnet import jax as d2l_jax


def test_seed_everything_makes_weights_reproducible():
    d2l_jax.seed_everything(3)
    a = d2l_jax.BasicBlock(4, 4).conv1.kernel.value
    b = d2l_jax.BasicBlock(4, 4).conv1.kernel.value
    d2l_jax.seed_everything(3)
    np.testing.assert_array_equal(a, d2l_jax.BasicBlock(4, 4).conv1.kernel.value)
    assert not np.array_equal(a, b)
    bound = 1 / np.sqrt(3 * 3 * 4)  # PyTorch's default: uniform in +-1/sqrt(fan_in)
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.8 * bound


def test_public_names_mirror_the_other_frameworks():
    from d2l_resnet import torch as d2l_torch

    assert set(d2l_jax.__all__) == set(d2l_torch.__all__)


def test_jax_package_imports_neither_torch_nor_tensorflow():
    code = ("import sys, d2l_resnet, d2l_resnet.jax; "
            "assert 'torch' not in sys.modules and 'tensorflow' not in sys.modules, "
            "[m for m in ('torch', 'tensorflow') if m in sys.modules]")
    subprocess.run([sys.executable, "-c", code], check=True)
    code = "import sys, d2l_resnet; assert 'jax' not in sys.modules and 'flax' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_max_pool_matches_reduce_window_and_checks_its_window():
    from d2l_resnet.jax.layers import max_pool

    X = jnp.asarray(np.random.default_rng(0).normal(size=(2, 9, 9, 3)), jnp.float32)
    want = jax.lax.reduce_window(X, -jnp.inf, jax.lax.max, (1, 3, 3, 1), (1, 2, 2, 1),
                                 ((0, 0), (1, 1), (1, 1), (0, 0)))
    np.testing.assert_array_equal(np.asarray(max_pool(X)), np.asarray(want))
    for bad in ({"window": 0}, {"stride": 0}):
        with pytest.raises(ValueError, match="must be a positive integer"):
            max_pool(X, **bad)
