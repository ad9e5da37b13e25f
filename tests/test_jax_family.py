"""The ResNet family in JAX: counts and FLOPs equal PyTorch's, the solutions page's
paper table, gradients at initialization, training. Parity of the functions computed
is in tests/test_jax_parity.py.

FLOPs come from XLA's cost analysis (see ``d2l_resnet.jax.utils.block_cost``) and must
equal ``torch.utils.flop_counter``'s count to the last FLOP.
"""

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

jax = pytest.importorskip("jax")
from flax import nnx

from d2l_resnet import jax as d2l_jax
from d2l_resnet import torch as d2l_torch
from d2l_resnet.variants import VARIANTS, Variant, cifar_variant

# The smallest network of the family: the ImageNet stem and one basic block.
ONE_BLOCK = Variant("one-block", "basic", depths=(1,), widths=(64,))


def _abstract(make):
    """The model ``make`` builds, with shapes but no weights computed."""
    return nnx.eval_shape(lambda: make(nnx.Rngs(0)))


def _torch_meta_cost(spec):
    """``d2l_torch.block_cost`` of ``ResNet(spec)`` at 224x224, counted by the
    same ``FlopCounterMode`` on the meta device: shapes only, so seconds, not 25 s."""
    with torch.device("meta"):
        model = d2l_torch.ResNet(spec).eval()
        X = torch.zeros(1, 3, 224, 224)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(X)
    return {"params": sum(p.numel() for p in model.parameters()),
            "flops": int(counter.get_total_flops())}


@pytest.fixture(scope="module")
def torch_costs():
    return {name: _torch_meta_cost(spec) for name, spec in VARIANTS.items()}


def test_meta_device_count_is_torchs_block_cost(torch_costs):
    assert torch_costs["ResNet-18"] == d2l_torch.block_cost(
        d2l_torch.ResNet("ResNet-18"), (1, 3, 224, 224))


@pytest.mark.parametrize("name", VARIANTS)
def test_jax_counts_equal_pytorchs(name, torch_costs):
    model = _abstract(lambda rngs: d2l_jax.ResNet(VARIANTS[name], rngs=rngs))
    assert d2l_jax.block_cost(model, (1, 224, 224, 3)) == torch_costs[name]


def test_stride_placement_changes_flops_not_params():
    spec = VARIANTS["ResNet-50"].replace(stride_on="3x3")
    cost = d2l_jax.block_cost(_abstract(lambda rngs: d2l_jax.ResNet(spec, rngs=rngs)),
                              (1, 224, 224, 3))
    assert cost["flops"] / 2e9 == pytest.approx(4.1, rel=0.01)


def test_solutions_table_is_identical_in_jax(torch_costs):
    """The paper table of the solutions page: the same parameters (M) and GMACs, built
    as the page builds them (eagerly, real weights) for the smallest network."""
    def rows(costs):
        return [[name, cost["params"] / 1e6, cost["flops"] / 2e9]
                for name, cost in costs.items()]

    jax_costs = {name: d2l_jax.block_cost(_abstract(
        lambda rngs, spec=spec: d2l_jax.ResNet(spec, rngs=rngs)), (1, 224, 224, 3))
        for name, spec in VARIANTS.items()}
    assert rows(jax_costs) == rows(torch_costs)
    eager = d2l_jax.block_cost(d2l_jax.ResNet("ResNet-18"), (1, 224, 224, 3))
    assert eager == torch_costs["ResNet-18"]


def test_resnext_block_cost_equals_pytorchs():
    jx = d2l_jax.block_cost(d2l_jax.Bottleneck(64, 64, 32, groups=32), (1, 16, 16, 64))
    assert jx == d2l_torch.block_cost(d2l_torch.Bottleneck(64, 64, 32, groups=32),
                                      (1, 64, 16, 16))


def test_trainer_steps_like_nnx_jit_and_trains_a_model_left_in_eval_mode(tiny_data_dir):
    """fit compiles its steps once per call (nnx.cached_partial) instead of walking the
    model at every batch: the weights after one epoch equal those of the plain
    nnx.jit step applied batch by batch, and a model evaluated just before fit still
    trains with batch statistics (cached_partial keeps the mode it is created in)."""
    import optax

    from d2l_resnet.jax.train import _train_step

    models = {}
    for how in ("trainer", "by hand"):
        d2l_jax.seed_everything(0)  # the same weights and the same shuffled batches
        data = d2l_jax.FashionMNIST(batch_size=32, resize=(28, 28), root=tiny_data_dir)
        model = models[how] = d2l_jax.ResNet(ONE_BLOCK, 10, 1, lr=0.05)
        model.eval()  # as after an evaluation
        if how == "trainer":
            d2l_jax.Trainer(1, plot=False, progress=False).fit(model, data)
        else:
            model.train()
            optimizer = nnx.Optimizer(model, optax.sgd(0.05), wrt=nnx.Param)
            for X, y in data.train_dataloader():
                _train_step(model, optimizer, X, y)
    # the running mean moved: the steps ran in training mode
    assert not np.allclose(models["trainer"].net.stem.layers[1].mean.value, 0)
    leaves = [jax.tree.leaves(nnx.state(m)) for m in models.values()]
    for a, b in zip(*leaves):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_bf16_training_keeps_float32_weights_and_logits(tiny_data_dir):
    data = d2l_jax.FashionMNIST(batch_size=100, root=tiny_data_dir, num_val=100)
    model = d2l_jax.ResNet(ONE_BLOCK, 10, 1, lr=0.05)
    trainer = d2l_jax.Trainer(1, mixed_precision="bf16", plot=False, progress=False)
    history = trainer.fit(model, data)
    assert np.isfinite(history.train_loss[0])
    conv = model.net.stem.layers[0]
    assert conv.kernel.value.dtype == np.float32 and conv.dtype is None  # restored
    X, _ = next(iter(data.val_dataloader()))
    from d2l_resnet.jax.train import compute_dtype
    with compute_dtype(model, jax.numpy.bfloat16):
        assert model(X).dtype == np.float32  # the classifier computes in float32


def test_training_config_follows_the_books_rule(capsys, monkeypatch):
    monkeypatch.delenv("D2L_RESNET_SIZE", raising=False)
    config = d2l_jax.training_config()
    assert config.size == ("full" if d2l_jax.gpu_available() else "small")
    assert "configuration" in capsys.readouterr().out


def test_degradation_run_follows_the_sizing_rule_in_every_framework(capsys, monkeypatch):
    from d2l_resnet import tensorflow as d2l_tf
    from d2l_resnet import torch as d2l_torch

    monkeypatch.delenv("D2L_RESNET_SIZE", raising=False)
    for package in (d2l_jax, d2l_torch, d2l_tf):
        config = package.degradation_config()
        assert config.size == ("full" if package.gpu_available() else "small"), package
    out = capsys.readouterr().out
    assert out.count("Degradation run") + out.count("degradation run") == 3, out
    monkeypatch.setenv("D2L_RESNET_SIZE", "full")
    assert {p.degradation_config().batch_size for p in (d2l_jax, d2l_torch, d2l_tf)} == {32}


def test_lesion_accuracies_equal_pytorchs():
    from test_jax_parity import copy_weights

    rng = np.random.default_rng(0)
    X = rng.random((24, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 24)
    pt = d2l_torch.ResNet(cifar_variant(14), 10, 1)
    jx = d2l_jax.ResNet(cifar_variant(14), 10, 1)
    copy_weights(pt, jx, (2, 28, 28, 1))
    expected = d2l_torch.lesion_accuracies(
        pt, torch.from_numpy(X.transpose(0, 3, 1, 2).copy()), torch.from_numpy(y), 12)
    actual = d2l_jax.lesion_accuracies(jx, X, y, 12)
    assert actual["skipped"] == expected["skipped"] == [2, 4]
    np.testing.assert_allclose(actual["deleted"], expected["deleted"])
    assert actual["intact"] == expected["intact"]
