"""The blocks and models of the three frameworks, one suite: the chapter's shapes,
parameter counts from first principles, the identity argument, and the errors a
reader meets. Every test runs once per framework (``FRAMEWORKS``); where the
frameworks differ (layout, how a weight is set), the adapter ``Fw`` says how."""

import importlib

import numpy as np
import pytest

from d2l_resnet.registry import FRAMEWORKS
from d2l_resnet.variants import Variant


class Fw:
    """One framework seen through the same few operations."""

    def __init__(self, tag):
        self.tag = tag
        self.fw = FRAMEWORKS[tag]
        pytest.importorskip({"pytorch": "torch"}.get(tag, tag))
        self.m = importlib.import_module(f"d2l_resnet.{self.fw.package}")

    def layout(self, n, c, h, w):
        """The shape (batch, channels, height, width) in this framework's layout."""
        return (n, c, h, w) if self.fw.layout == "NCHW" else (n, h, w, c)

    def input(self, n, c, h, w, seed=0):
        X = np.random.default_rng(seed).normal(size=self.layout(n, c, h, w))
        X = X.astype(np.float32)
        if self.tag == "pytorch":
            import torch
            return torch.from_numpy(X)
        if self.tag == "tensorflow":
            import tensorflow as tf
            return tf.constant(X)
        import jax.numpy as jnp
        return jnp.asarray(X)

    def run(self, module, X, training=False):
        if self.tag == "pytorch":
            import torch
            module.train(training)
            with torch.no_grad():
                return module(X).numpy()
        if self.tag == "tensorflow":
            return module(X, training=training).numpy()
        module.train() if training else module.eval()
        return np.asarray(module(X))

    def zero_scale(self, bn):
        """Sets the scale gamma of a batch normalization layer to zero."""
        if self.tag == "pytorch":
            import torch
            with torch.no_grad():
                bn.weight.zero_()
        elif self.tag == "tensorflow":
            bn.gamma.assign(np.zeros(bn.gamma.shape, np.float32))
        else:
            bn.scale.value = bn.scale.value * 0

    def groups_and_kernel(self, conv):
        """A convolution's groups and its kernel's (in/groups, out) channels."""
        if self.tag == "pytorch":
            return conv.groups, tuple(conv.weight.shape[1::-1])
        if self.tag == "tensorflow":
            return conv.groups, tuple(conv.kernel.shape[2:])
        return conv.feature_group_count, tuple(conv.kernel.shape[2:])

    def count_params(self, make, shape):
        if self.tag == "jax":
            from flax import nnx
            model = nnx.eval_shape(lambda: make(rngs=nnx.Rngs(0)))
        else:
            model = make()
        return self.m.count_params(model, shape)


@pytest.fixture(params=list(FRAMEWORKS))
def fw(request):
    return Fw(request.param)


def test_basic_block_keeps_the_shape_with_an_identity_shortcut(fw):
    blk = fw.m.BasicBlock(3, 3)
    assert blk.shortcut is None and blk.use_shortcut
    assert fw.run(blk, fw.input(4, 3, 6, 6)).shape == fw.layout(4, 3, 6, 6)


def test_basic_block_projects_where_it_halves_and_widens(fw):
    blk = fw.m.BasicBlock(3, 6, stride=2)
    assert blk.shortcut is not None
    assert fw.run(blk, fw.input(4, 3, 6, 6)).shape == fw.layout(4, 6, 3, 3)


@pytest.mark.parametrize("stride_on", ["1x1", "3x3"])
@pytest.mark.parametrize("in_channels,stride,out", [(32, 1, 96), (16, 2, 48)])
def test_bottleneck_shapes(fw, in_channels, stride, out, stride_on):
    blk = fw.m.Bottleneck(in_channels, 32, 32, stride=stride, groups=16,
                          stride_on=stride_on)
    X = fw.input(2, in_channels, 96, 96)
    assert fw.run(blk, X).shape == fw.layout(2, 32, out, out)


@pytest.mark.parametrize("block", ["BasicBlock", "Bottleneck"])
def test_zero_last_bn_scale_makes_the_block_compute_relu_x(fw, block):
    """The chapter's identity argument: with gamma = 0 in the last batch norm
    (beta starts at 0), the block computes ReLU(x) exactly, in both modes."""
    blk = (fw.m.BasicBlock(3, 3) if block == "BasicBlock"
           else fw.m.Bottleneck(3, 3, 2))
    X = fw.input(4, 3, 6, 6)
    fw.run(blk, X)  # builds Keras's layers
    fw.zero_scale(blk.bn2 if block == "BasicBlock" else blk.bn3)
    for training in (True, False):
        np.testing.assert_array_equal(fw.run(blk, X, training),
                                      np.maximum(np.asarray(X), 0))


@pytest.mark.parametrize("groups", [1, 2, 8, 32])
def test_grouped_conv_has_the_stated_groups(fw, groups):
    blk = fw.m.Bottleneck(64, 64, 32, groups=groups)
    fw.run(blk, fw.input(1, 64, 8, 8))
    assert fw.groups_and_kernel(blk.conv2) == (groups, (32 // groups, 32))


def test_grouped_conv_saves_parameters_and_flops_g_fold(fw):
    shape = fw.layout(1, 64, 16, 16)
    costs = {g: fw.m.block_cost(fw.m.Bottleneck(64, 64, 64, groups=g), shape)
             for g in (1, 4)}
    conv3x3 = 64 * 64 * 9
    assert costs[1]["params"] - costs[4]["params"] == conv3x3 - conv3x3 // 4
    assert costs[1]["flops"] - costs[4]["flops"] == 2 * 16 * 16 * (conv3x3 * 3 // 4)


def test_resnet18_stage_shapes(fw, capsys):
    model = fw.m.ResNet("ResNet-18", num_classes=10, in_channels=1)
    fw.m.layer_summary(model, fw.layout(1, 1, 96, 96))
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "stem", "stage1", "stage2", "stage3", "stage4", "head"]
    shapes = [(64, 24), (64, 24), (128, 12), (256, 6), (512, 3)]
    assert [line.split(": ")[1] for line in lines] == [
        str(fw.layout(1, c, s, s)) for c, s in shapes] + ["(1, 10)"]


def expected_resnet18_params(in_channels, num_classes):
    """ResNet-18's parameter count from first principles: bias-free convolutions,
    each followed by batch normalization (2 parameters per channel), also on the
    three projection shortcuts."""
    def conv_bn(cin, cout, k):
        return cin * cout * k * k + 2 * cout

    total, cin = conv_bn(in_channels, 64, 7), 64
    for cout in (64, 128, 256, 512):
        for _ in range(2):
            total += conv_bn(cin, cout, 3) + conv_bn(cout, cout, 3)
            if cin != cout:
                total += conv_bn(cin, cout, 1)
            cin = cout
    return total + 512 * num_classes + num_classes


@pytest.mark.parametrize("in_channels,num_classes", [(1, 10), (3, 1000)])
def test_resnet18_parameter_count(fw, in_channels, num_classes):
    n = fw.count_params(
        lambda **kw: fw.m.ResNet("ResNet-18", num_classes, in_channels, **kw),
        fw.layout(1, in_channels, 64, 64))
    assert n == expected_resnet18_params(in_channels, num_classes)


def test_a_variant_of_our_own(fw):
    spec = Variant("tiny", block="basic", depths=(1, 1), widths=(64, 32))
    model = fw.m.ResNet(spec, num_classes=7, in_channels=3)
    assert fw.run(model, fw.input(2, 3, 64, 64)).shape == (2, 7)
    assert model.spec is spec and model.in_channels == 3


@pytest.mark.parametrize("make, match", [
    (lambda m: m.BasicBlock(8, 0), "out_channels must be a positive integer"),
    (lambda m: m.BasicBlock(8, 8, stride=-1), "stride must be a positive"),
    (lambda m: m.Bottleneck(32, 32, 32, groups=5),
     "groups=5 must divide the 32 bottleneck channels"),
    (lambda m: m.Bottleneck(32, 32, 0), "bot_channels must be a positive"),
    (lambda m: m.Bottleneck(32, 32, 8, stride_on="2x2"), "stride_on must be"),
    (lambda m: m.ResNet("ResNet-18", num_classes=0), "num_classes must be"),
    (lambda m: m.ResNet("ResNet-19"), "unknown variant 'ResNet-19'; choose one"),
    (lambda m: m.ResNet(((2, 64), (2, 128))), "spec must be a Variant"),
])
def test_bad_arguments_are_refused_by_name(fw, make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make(fw.m)


def test_input_in_the_other_layout_is_refused(fw):
    model = fw.m.ResNet("ResNet-18", num_classes=10, in_channels=1)
    other = (2, 96, 96, 1) if fw.fw.layout == "NCHW" else (2, 1, 96, 96)
    fix = {"pytorch": r"permute\(0, 3, 1, 2\)", "tensorflow": "tf.transpose",
           "jax": "jnp.transpose"}[fw.tag]
    with pytest.raises(ValueError, match=fr"looks N.*: use .*{fix}"):
        model(_raw(fw, other))
    with pytest.raises(ValueError, match="4-D batch"):
        model(_raw(fw, (96, 96, 1)))
    with pytest.raises(ValueError, match="built for 1 input channels.*in_channels=3"):
        model(fw.input(2, 3, 64, 64))


def _raw(fw, shape):
    """A zero tensor of ``shape`` as it is, in no particular layout."""
    if fw.tag == "pytorch":
        import torch
        return torch.zeros(shape)
    if fw.tag == "tensorflow":
        import tensorflow as tf
        return tf.zeros(shape)
    import jax.numpy as jnp
    return jnp.zeros(shape)

