"""PyTorch blocks and models: the chapter's shapes, counts, identity argument, errors."""

import pytest
import torch

from d2l_resnet import torch as d2l_torch


def test_residual_keeps_shape():
    assert d2l_torch.Residual(3)(torch.randn(4, 3, 6, 6)).shape == (4, 3, 6, 6)


def test_residual_with_projection_halves_and_widens():
    blk = d2l_torch.Residual(6, use_1x1conv=True, strides=2)
    assert blk(torch.randn(4, 3, 6, 6)).shape == (4, 6, 3, 3)


@pytest.mark.parametrize("use_1x1conv,strides,out", [(False, 1, 96), (True, 2, 48)])
def test_resnext_block_shapes(use_1x1conv, strides, out):
    blk = d2l_torch.ResNeXtBlock(32, groups=16, bot_mul=1, use_1x1conv=use_1x1conv,
                                 strides=strides)
    assert blk(torch.randn(4, 32, 96, 96)).shape == (4, 32, out, out)


def test_resnet18_stage_shapes(capsys):
    d2l_torch.layer_summary(d2l_torch.ResNet18(), (1, 1, 96, 96))
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "stem", "stage1", "stage2", "stage3", "stage4", "head"]
    assert [line.split(": ")[1] for line in lines] == [
        "(1, 64, 24, 24)", "(1, 64, 24, 24)", "(1, 128, 12, 12)", "(1, 256, 6, 6)",
        "(1, 512, 3, 3)", "(1, 10)"]


def _expected_resnet18_params(in_channels=1, num_classes=10):
    """ResNet-18's parameter count from first principles (bias-free convs before BN)."""
    def conv(cin, cout, k, bias=False):
        return cin * cout * k * k + (cout if bias else 0)

    bn = 2  # gamma and beta per channel
    total = conv(in_channels, 64, 7) + bn * 64
    cin = 64
    for cout in (64, 128, 256, 512):
        for block in range(2):
            first = block == 0 and cout != 64
            total += conv(cin, cout, 3) + bn * cout + conv(cout, cout, 3) + bn * cout
            if first:
                total += conv(cin, cout, 1, bias=True)
            cin = cout
    return total + 512 * num_classes + num_classes


@pytest.mark.parametrize("in_channels", [1, 3])
def test_resnet18_parameter_count(in_channels):
    model = d2l_torch.ResNet18()
    n = d2l_torch.count_params(model, (1, in_channels, 96, 96))
    assert n == _expected_resnet18_params(in_channels)


def test_custom_arch_and_classes():
    model = d2l_torch.ResNet(((1, 64), (1, 32)), num_classes=7)
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 7)


@pytest.mark.parametrize("arch,match", [
    (((2, 32), (2, 64)), "first stage must have 64 channels"),
    ((), "non-empty sequence"),
    (((2, 64, 1),), "pairs"),
    (((0, 64),), "positive ints"),
])
def test_bad_arch_is_refused(arch, match):
    with pytest.raises(ValueError, match=match):
        d2l_torch.ResNet(arch)


def test_zero_last_bn_scale_makes_block_identity():
    """The chapter's identity argument: with gamma = 0 in bn2, the block is relu(x)."""
    blk = d2l_torch.Residual(3)
    X = torch.randn(4, 3, 6, 6)
    blk(X)  # build the lazy layers
    with torch.no_grad():
        blk.bn2.weight.zero_()
        blk.bn2.bias.zero_()
    for train in (True, False):
        blk.train(train)
        torch.testing.assert_close(blk(X), torch.relu(X))


@pytest.mark.parametrize("groups", [1, 2, 8, 32])
def test_grouped_conv_has_stated_groups(groups):
    blk = d2l_torch.ResNeXtBlock(64, groups=groups, bot_mul=0.5)
    blk(torch.randn(1, 64, 8, 8))
    assert blk.conv2.groups == groups
    assert blk.conv2.weight.shape == (32, 32 // groups, 3, 3)


def test_grouped_conv_saves_parameters_and_flops_g_fold():
    costs = {g: d2l_torch.block_cost(d2l_torch.ResNeXtBlock(64, g, 1), (1, 64, 16, 16))
             for g in (1, 4)}
    conv3x3_params = 64 * 64 * 9
    assert costs[1]["params"] - costs[4]["params"] == conv3x3_params - conv3x3_params // 4
    assert costs[1]["flops"] - costs[4]["flops"] == 2 * 16 * 16 * (conv3x3_params * 3 // 4)


def test_groups_must_divide_channels():
    with pytest.raises(ValueError, match="groups=5 must divide the 32 bottleneck"):
        d2l_torch.ResNeXtBlock(32, groups=5, bot_mul=1)


def test_channels_last_input_is_refused_before_and_after_build():
    model = d2l_torch.ResNet18()
    with pytest.raises(ValueError, match=r"channels-last.*permute\(0, 3, 1, 2\)"):
        model(torch.randn(2, 96, 96, 1))
    model(torch.randn(2, 3, 64, 64))
    with pytest.raises(ValueError, match="channels-last"):
        model(torch.randn(2, 64, 64, 3))


def test_non_batched_input_is_refused():
    with pytest.raises(ValueError, match="4-D batch"):
        d2l_torch.ResNet18()(torch.randn(1, 96, 96))
