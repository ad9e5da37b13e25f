"""TensorFlow blocks and models: the chapter's shapes (NHWC), counts, identity, errors."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
from d2l_resnet import tensorflow as d2l_tf
from test_torch_models import _expected_resnet18_params


def test_residual_keeps_shape():
    assert d2l_tf.Residual(3)(tf.random.normal((4, 6, 6, 3))).shape == (4, 6, 6, 3)


def test_residual_with_projection_halves_and_widens():
    blk = d2l_tf.Residual(6, use_1x1conv=True, strides=2)
    assert blk(tf.random.normal((4, 6, 6, 3))).shape == (4, 3, 3, 6)


@pytest.mark.parametrize("use_1x1conv,strides,out", [(False, 1, 96), (True, 2, 48)])
def test_resnext_block_shapes(use_1x1conv, strides, out):
    blk = d2l_tf.ResNeXtBlock(32, groups=16, bot_mul=1, use_1x1conv=use_1x1conv,
                              strides=strides)
    assert blk(tf.random.normal((4, 96, 96, 32))).shape == (4, out, out, 32)


def test_resnet18_stage_shapes(capsys):
    d2l_tf.layer_summary(d2l_tf.ResNet18(), (1, 96, 96, 1))
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "stem", "stage1", "stage2", "stage3", "stage4", "head"]
    assert [line.split(": ")[1] for line in lines] == [
        "(1, 24, 24, 64)", "(1, 24, 24, 64)", "(1, 12, 12, 128)", "(1, 6, 6, 256)",
        "(1, 3, 3, 512)", "(1, 10)"]


@pytest.mark.parametrize("in_channels", [1, 3])
def test_resnet18_parameter_count_matches_pytorch(in_channels):
    n = d2l_tf.count_params(d2l_tf.ResNet18(), (1, 96, 96, in_channels))
    assert n == _expected_resnet18_params(in_channels)


def test_zero_last_bn_scale_makes_block_identity():
    blk = d2l_tf.Residual(3)
    X = tf.random.normal((4, 6, 6, 3))
    blk(X)
    blk.bn2.gamma.assign(tf.zeros_like(blk.bn2.gamma))
    blk.bn2.beta.assign(tf.zeros_like(blk.bn2.beta))
    for training in (True, False):
        np.testing.assert_allclose(blk(X, training=training), tf.nn.relu(X), atol=1e-6)


@pytest.mark.parametrize("groups", [1, 2, 8, 32])
def test_grouped_conv_has_stated_groups(groups):
    blk = d2l_tf.ResNeXtBlock(64, groups=groups, bot_mul=0.5)
    blk(tf.random.normal((1, 8, 8, 64)))
    assert blk.conv2.groups == groups
    assert tuple(blk.conv2.kernel.shape) == (3, 3, 32 // groups, 32)


def test_groups_must_divide_channels():
    with pytest.raises(ValueError, match="groups=5 must divide the 32 bottleneck"):
        d2l_tf.ResNeXtBlock(32, groups=5, bot_mul=1)


def test_channels_first_input_is_refused():
    model = d2l_tf.ResNet18()
    with pytest.raises(ValueError, match=r"channels-first.*tf.transpose"):
        model(tf.zeros((2, 1, 96, 96)))
    model(tf.zeros((2, 64, 64, 3)))
    with pytest.raises(ValueError, match="channels-first"):
        model(tf.zeros((2, 3, 64, 64)))
