"""JAX blocks and models: the chapter's shapes (NHWC), counts, identity, errors, imports."""

import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp
from flax import nnx

from d2l_resnet import jax as d2l_jax
from test_torch_models import _expected_resnet18_params


def _shape(module, shape):
    """Output shape of ``module`` on an input of ``shape``, traced, not computed."""
    graphdef, state = nnx.split(module)
    return jax.eval_shape(lambda s, X: nnx.merge(graphdef, s)(X), state,
                          jax.ShapeDtypeStruct(shape, jnp.float32)).shape


def test_residual_keeps_shape():
    assert _shape(d2l_jax.Residual(3), (4, 6, 6, 3)) == (4, 6, 6, 3)


def test_residual_with_projection_halves_and_widens():
    blk = d2l_jax.Residual(6, use_1x1conv=True, strides=2, in_channels=3)
    assert _shape(blk, (4, 6, 6, 3)) == (4, 3, 3, 6)


@pytest.mark.parametrize("use_1x1conv,strides,out", [(False, 1, 96), (True, 2, 48)])
def test_resnext_block_shapes(use_1x1conv, strides, out):
    blk = d2l_jax.ResNeXtBlock(32, groups=16, bot_mul=1, use_1x1conv=use_1x1conv,
                               strides=strides)
    assert _shape(blk, (4, 96, 96, 32)) == (4, out, out, 32)


def test_resnet18_stage_shapes(capsys):
    d2l_jax.layer_summary(d2l_jax.ResNet18(), (1, 96, 96, 1))
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "stem", "stage1", "stage2", "stage3", "stage4", "head"]
    assert [line.split(": ")[1] for line in lines] == [
        "(1, 24, 24, 64)", "(1, 24, 24, 64)", "(1, 12, 12, 128)", "(1, 6, 6, 256)",
        "(1, 3, 3, 512)", "(1, 10)"]


@pytest.mark.parametrize("in_channels", [1, 3])
def test_resnet18_parameter_count_matches_pytorch(in_channels):
    model = nnx.eval_shape(lambda: d2l_jax.ResNet18(in_channels=in_channels,
                                                    rngs=nnx.Rngs(0)))
    n = d2l_jax.count_params(model, (1, 96, 96, in_channels))
    assert n == _expected_resnet18_params(in_channels)


def test_custom_arch_and_classes():
    model = d2l_jax.ResNet(((1, 64), (1, 32)), num_classes=7, in_channels=3)
    assert _shape(model, (2, 64, 64, 3)) == (2, 7)


@pytest.mark.parametrize("arch,match", [
    (((2, 32), (2, 64)), "first stage must have 64 channels"),
    ((), "non-empty sequence"),
    (((2, 64, 1),), "pairs"),
    (((0, 64),), "positive ints"),
])
def test_bad_arch_is_refused(arch, match):
    with pytest.raises(ValueError, match=match):
        d2l_jax.ResNet(arch)


def test_zero_last_bn_scale_makes_block_identity():
    """The chapter's identity argument: with gamma = 0 in bn2 (beta starts at 0),
    the block is relu(x)."""
    blk = d2l_jax.Residual(3)
    X = jax.random.normal(jax.random.key(0), (4, 6, 6, 3))
    blk.bn2.scale.value = jnp.zeros(3)
    for mode in ("train", "eval"):
        getattr(blk, mode)()
        np.testing.assert_allclose(blk(X), jax.nn.relu(X), atol=1e-6)


@pytest.mark.parametrize("groups", [1, 2, 8, 32])
def test_grouped_conv_has_stated_groups(groups):
    blk = d2l_jax.ResNeXtBlock(64, groups=groups, bot_mul=0.5)
    assert blk.conv2.feature_group_count == groups
    assert tuple(blk.conv2.kernel.shape) == (3, 3, 32 // groups, 32)


def test_groups_must_divide_channels():
    with pytest.raises(ValueError, match="groups=5 must divide the 32 bottleneck"):
        d2l_jax.ResNeXtBlock(32, groups=5, bot_mul=1)
    with pytest.raises(ValueError, match="groups=3 must divide both"):
        d2l_jax.Bottleneck(16, 32, 8, groups=3)


@pytest.mark.parametrize("make, match", [
    (lambda: d2l_jax.Residual(0), "num_channels must be a positive integer"),
    (lambda: d2l_jax.Residual(8, strides=-1, use_1x1conv=True), "strides must be"),
    (lambda: d2l_jax.Residual(8, in_channels=4), "pass use_1x1conv=True"),
    (lambda: d2l_jax.ResNet18(num_classes=0), "num_classes must be"),
    (lambda: d2l_jax.BasicBlock(8, 0), "out_channels must be a positive integer"),
])
def test_non_positive_sizes_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_channels_first_input_is_refused():
    model = d2l_jax.ResNet18()
    with pytest.raises(ValueError, match=r"channels-first.*jnp.transpose"):
        model(jnp.zeros((2, 1, 96, 96)))
    with pytest.raises(ValueError, match="4-D"):
        model(jnp.zeros((96, 96, 1)))
    model3 = d2l_jax.ResNet18(in_channels=3)
    with pytest.raises(ValueError, match="channels-first"):
        model3(jnp.zeros((2, 3, 64, 64)))
    with pytest.raises(ValueError, match="built for 3 input channels.*in_channels=1"):
        model3(jnp.zeros((2, 64, 64, 1)))


def test_seed_everything_makes_weights_reproducible():
    d2l_jax.seed_everything(3)
    a = d2l_jax.Residual(4).conv1.kernel.value
    b = d2l_jax.Residual(4).conv1.kernel.value
    d2l_jax.seed_everything(3)
    np.testing.assert_array_equal(a, d2l_jax.Residual(4).conv1.kernel.value)
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
