"""Numerical parity: the PyTorch and JAX models compute the same function.

The weights of each PyTorch module are copied into its JAX twin; both must then give
the same outputs (max abs difference 1e-4 in float32), in training mode (batch
statistics, and the running statistics they update) and in evaluation mode (running
statistics). Mirrors tests/test_parity.py for TensorFlow.
"""

import numpy as np
import pytest
import torch
from torch import nn

jax = pytest.importorskip("jax")
import jax.numpy as jnp
from flax import nnx

from d2l_resnet import jax as d2l_jax
from d2l_resnet import torch as d2l_torch
from d2l_resnet.jax.layers import BatchNorm, call_order
from d2l_resnet.variants import Variant, cifar_variant

WEIGHTED = (nn.Conv2d, nn.BatchNorm2d, nn.Linear)
NNX_WEIGHTED = (nnx.Conv, BatchNorm, nnx.Linear)
TOL = 1e-4


def nnx_layers(module, input_shape):
    """Weighted layers in the order a forward pass calls them (PyTorch's build order)."""
    by_path = dict(nnx.iter_graph(module))
    return [by_path[path] for path in call_order(module, input_shape, NNX_WEIGHTED)]


def copy_weights(pt_module, jx_module, input_shape):
    """Copies every conv, BN and dense weight from PyTorch to NNX, in build order."""
    pt_layers = [m for m in pt_module.modules() if isinstance(m, WEIGHTED)]
    jx_layers = nnx_layers(jx_module, input_shape)
    assert [type(m).__name__ for m in pt_layers] == [
        {"Conv": "Conv2d", "BatchNorm": "BatchNorm2d", "Linear": "Linear"}[type(j).__name__]
        for j in jx_layers]
    for pt, jx in zip(pt_layers, jx_layers):
        def arr(t):
            return jnp.asarray(t.detach().numpy())
        if isinstance(pt, nn.BatchNorm2d):
            jx.scale.value, jx.bias.value = arr(pt.weight), arr(pt.bias)
            jx.mean.value, jx.var.value = arr(pt.running_mean), arr(pt.running_var)
            continue
        kernel = pt.weight.detach().numpy()
        jx.kernel.value = jnp.asarray(kernel.transpose(2, 3, 1, 0) if kernel.ndim == 4
                                      else kernel.T)
        assert (pt.bias is None) == (jx.bias is None)
        if pt.bias is not None:
            jx.bias.value = arr(pt.bias)
    return pt_layers, jx_layers


def randomize_bn(pt_module, generator):
    """Non-trivial BN parameters and running statistics, so evaluation mode is tested."""
    with torch.no_grad():
        for m in pt_module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=generator)
                m.bias.uniform_(-0.5, 0.5, generator=generator)
                m.running_mean.uniform_(-0.2, 0.2, generator=generator)
                m.running_var.uniform_(0.5, 2.0, generator=generator)


@nnx.jit
def _forward(model, X):
    return model(X)


def assert_same_function(make_torch, make_jax, shape, training):
    """Builds both modules, copies the weights across, and compares their outputs on
    the same random batch (NCHW in, NHWC for JAX), and in training mode the running
    statistics each batch-norm layer updated."""
    g = torch.Generator().manual_seed(0)
    X = torch.rand(*shape, generator=g)
    pt = make_torch(d2l_torch)
    pt.eval()
    with torch.no_grad():
        pt(X)  # build the lazy layers
    randomize_bn(pt, g)
    jx = make_jax(d2l_jax)
    pt_layers, jx_layers = copy_weights(pt, jx, (shape[0], *shape[2:], shape[1]))
    pt.train(training)
    jx.train() if training else jx.eval()
    with torch.no_grad():
        expected = pt(X).numpy()
    actual = np.asarray(_forward(jx, jnp.asarray(X.numpy().transpose(0, 2, 3, 1))))
    if expected.ndim == 4:
        expected = expected.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOL)
    for p, j in zip(pt_layers, jx_layers):
        if isinstance(p, nn.BatchNorm2d):
            np.testing.assert_allclose(np.asarray(j.mean.value), p.running_mean.numpy(),
                                       rtol=0, atol=TOL)
            np.testing.assert_allclose(np.asarray(j.var.value), p.running_var.numpy(),
                                       rtol=0, atol=TOL)


MINI_RESNEXT = Variant("mini", "bottleneck", depths=(1, 1), widths=(32, 64),
                       bottleneck_widths=(16, 32), groups=4, stride_on="3x3",
                       stem_channels=16)

# name: (PyTorch module, JAX module, NCHW input shape); the same constructor call in
# both frameworks.
CASES = {
    "basic-tiny-map": (  # 2x2 output: the convolution runs as a matrix product
        lambda m: m.BasicBlock(8, 16, stride=2), (2, 8, 3, 3)),
    "resnext": (lambda m: m.Bottleneck(32, 32, 16, groups=8), (2, 32, 12, 12)),
    "resnext-stride2": (lambda m: m.Bottleneck(32, 64, 64, stride=2, groups=4,
                                               stride_on="3x3"), (2, 32, 12, 12)),
    "resnext-tiny-map": (  # grouped convolution as a matrix product
        lambda m: m.Bottleneck(32, 64, 64, stride=2, groups=4, stride_on="3x3"),
        (2, 32, 4, 4)),
    # 48x48 input: stage 4 runs at 2x2, as matrix products on a CPU. (At 1x1 maps, batch
    # norm over a batch of 2 sees 2 values and amplifies rounding past the tolerance.)
    "ResNet-18": (lambda m: m.ResNet("ResNet-18", 10, 1), (2, 1, 48, 48)),
}
CASES = {name: (make, make, shape) for name, (make, shape) in CASES.items()}

FAMILY = {
    "basic": (lambda m: m.BasicBlock(8, 8), (2, 8, 10, 10)),
    "basic-projection": (lambda m: m.BasicBlock(8, 16, stride=2), (2, 8, 10, 10)),
    "plain": (lambda m: m.BasicBlock(8, 16, stride=2, shortcut=False), (2, 8, 10, 10)),
    "bottleneck-1x1": (lambda m: m.Bottleneck(16, 32, 8, stride=2), (2, 16, 9, 9)),
    "bottleneck-grouped-3x3": (lambda m: m.Bottleneck(16, 32, 16, stride=2, groups=4,
                                                      stride_on="3x3"), (2, 16, 9, 9)),
    "preact": (lambda m: m.PreActBlock(8, 8), (2, 8, 10, 10)),
    "preact-projection": (lambda m: m.PreActBlock(8, 16, stride=2), (2, 8, 10, 10)),
    "preact-bottleneck": (lambda m: m.PreActBottleneck(16, 32, 8, stride=2), (2, 16, 9, 9)),
    "plain-20": (lambda m: m.ResNet(cifar_variant(20, shortcuts=False), 10, 1),
                 (2, 1, 28, 28)),
    "preact-resnet-20": (lambda m: m.ResNet(cifar_variant(20, preact=True), 10, 1),
                         (2, 1, 28, 28)),
    "resnext-mini": (lambda m: m.ResNet(MINI_RESNEXT, 10, 3), (2, 3, 64, 64)),
}


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", CASES)
def test_pytorch_and_jax_agree(name, training):
    assert_same_function(*CASES[name], training)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", FAMILY)
def test_family_pytorch_and_jax_agree(name, training):
    make, shape = FAMILY[name]
    assert_same_function(make, make, shape, training)


@pytest.mark.parametrize("shape, kernel, stride, groups", [
    ((3, 2, 2, 16), 3, 1, 1), ((3, 3, 3, 16), 3, 2, 1), ((3, 4, 4, 16), 1, 2, 1),
    ((3, 2, 2, 16), 3, 1, 4), ((3, 5, 5, 8), 3, 1, 2)])
def test_matmul_convolution_equals_xla_convolution(shape, kernel, stride, groups):
    """The im2col form computes what lax.conv_general_dilated does: values and both
    gradients, grouped or not."""
    from jax import lax

    from d2l_resnet.jax.layers import conv_as_matmul

    rng = np.random.default_rng(0)
    X = jnp.asarray(rng.standard_normal(shape, np.float32))
    W = jnp.asarray(rng.standard_normal((kernel, kernel, shape[-1] // groups, 8), np.float32))
    pad = ((kernel // 2,) * 2,) * 2

    def xla(X, W):
        return lax.conv_general_dilated(X, W, (stride, stride), pad, feature_group_count=groups,
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                        precision="highest")

    def matmul(X, W):
        return conv_as_matmul(X, W, (stride, stride), pad, groups, precision="highest")

    np.testing.assert_allclose(matmul(X, W), xla(X, W), atol=1e-4)
    for f in (xla, matmul):
        f.grads = jax.grad(lambda X, W, f=f: jnp.sum(jnp.sin(f(X, W))), argnums=(0, 1))(X, W)
    for a, b in zip(matmul.grads, xla.grads):
        np.testing.assert_allclose(a, b, atol=1e-4)
