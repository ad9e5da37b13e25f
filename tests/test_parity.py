"""Numerical parity: the PyTorch and TensorFlow models compute the same function.

The weights of each PyTorch module are copied into its TensorFlow twin; both must
then give the same outputs, in training mode (batch statistics) and in inference
mode (running statistics).
"""

import numpy as np
import pytest
import torch
from torch import nn

tf = pytest.importorskip("tensorflow")
from d2l_resnet import tensorflow as d2l_tf
from d2l_resnet import torch as d2l_torch

WEIGHTED = (nn.Conv2d, nn.BatchNorm2d, nn.Linear)
KERAS_WEIGHTED = (tf.keras.layers.Conv2D, tf.keras.layers.BatchNormalization,
                  tf.keras.layers.Dense)


def _keras_layers(layer):
    """Weighted layers depth-first, in the order they were assigned (PyTorch's order)."""
    found = []
    for sub in layer._flatten_layers(include_self=False, recursive=False):
        found += [sub] if isinstance(sub, KERAS_WEIGHTED) else _keras_layers(sub)
    return found


def copy_weights(pt_module, tf_layer):
    """Copies every conv, BN and dense weight from PyTorch to Keras, in build order."""
    pt_layers = [m for m in pt_module.modules() if isinstance(m, WEIGHTED)]
    tf_layers = _keras_layers(tf_layer)
    assert [type(m).__name__ for m in pt_layers] == [
        {"Conv2D": "Conv2d", "BatchNormalization": "BatchNorm2d", "Dense": "Linear"}[
            type(t).__name__] for t in tf_layers]
    for pt, tfl in zip(pt_layers, tf_layers):
        if isinstance(pt, nn.Conv2d):
            weights = [pt.weight.detach().numpy().transpose(2, 3, 1, 0)]
        elif isinstance(pt, nn.Linear):
            weights = [pt.weight.detach().numpy().T]
        else:
            weights = [pt.weight.detach().numpy(), pt.bias.detach().numpy(),
                       pt.running_mean.numpy(), pt.running_var.numpy()]
            tfl.set_weights(weights)
            continue
        if pt.bias is not None:
            weights.append(pt.bias.detach().numpy())
        tfl.set_weights(weights)


def randomize_bn(pt_module, generator):
    """Non-trivial BN parameters and running statistics, so inference mode is tested."""
    with torch.no_grad():
        for m in pt_module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=generator)
                m.bias.uniform_(-0.5, 0.5, generator=generator)
                m.running_mean.uniform_(-0.2, 0.2, generator=generator)
                m.running_var.uniform_(0.5, 2.0, generator=generator)


CASES = {
    "basic": (lambda m: m.BasicBlock(8, 8), (2, 8, 10, 10)),
    "basic-projection-stride2": (lambda m: m.BasicBlock(8, 16, stride=2), (2, 8, 10, 10)),
    "resnext": (lambda m: m.Bottleneck(32, 32, 16, groups=8), (2, 32, 12, 12)),
    "resnext-stride2": (lambda m: m.Bottleneck(32, 64, 64, stride=2, groups=4,
                                               stride_on="3x3"), (2, 32, 12, 12)),
    "ResNet-18": (lambda m: m.ResNet("ResNet-18", 10, 1), (2, 1, 96, 96)),
}


def assert_same_function(make, shape, training):
    """Builds the PyTorch and the Keras module with ``make``, copies the weights across,
    and compares their outputs on the same random batch (NCHW in, NHWC for Keras)."""
    g = torch.Generator().manual_seed(0)
    X = torch.rand(*shape, generator=g)
    pt = make(d2l_torch)
    pt.eval()
    with torch.no_grad():
        pt(X)  # build the lazy layers
    randomize_bn(pt, g)
    X_tf = tf.constant(X.numpy().transpose(0, 2, 3, 1))
    tfm = make(d2l_tf)
    tfm(X_tf, training=False)
    copy_weights(pt, tfm)
    pt.train(training)
    with torch.no_grad():
        expected = pt(X).numpy()
    actual = tfm(X_tf, training=training).numpy()
    if expected.ndim == 4:
        expected = expected.transpose(0, 2, 3, 1)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("training", [True, False], ids=["train", "inference"])
@pytest.mark.parametrize("name", CASES)
def test_pytorch_and_tensorflow_agree(name, training):
    assert_same_function(*CASES[name], training)
