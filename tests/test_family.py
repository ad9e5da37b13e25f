"""The ResNet family built from data: paper counts, cross-framework parity, errors;
the behaviour tests run for every framework (``FRAMEWORKS``).

Reference numbers:
- FLOPs: He et al. (2016a), Table 1, and Xie et al. (2017), Table 1, count
  multiply-adds at 224x224, rounded to one decimal. We count with
  ``torch.utils.flop_counter`` (PyTorch) and by walking the traced graph
  (TensorFlow), both of which count a multiply-add as 2 FLOPs, and halve.
  Tolerance: 2% (the paper's 3.6 for ResNet-34 is 1.8% below the exact 3.66).
- Parameters: the papers give ResNet-50 (25.5M) and ResNeXt-50 (25.0M) only
  (Xie et al., Table 1); tolerance 0.5%.
"""

import numpy as np
import pytest
import torch

from d2l_resnet import plots
from d2l_resnet import torch as d2l_torch
from d2l_resnet.training import History
from d2l_resnet.variants import VARIANTS, Variant, cifar_variant, variant

tf = pytest.importorskip("tensorflow")
jax = pytest.importorskip("jax")
from d2l_resnet import jax as d2l_jax
from d2l_resnet import tensorflow as d2l_tf
from test_parity import assert_same_function

# The behaviour tests run once per framework: its package, and how a NumPy batch of
# NCHW images and labels becomes its input (PyTorch is NCHW, Keras and JAX NHWC).
PACKAGES = {"torch": d2l_torch, "tensorflow": d2l_tf, "jax": d2l_jax}
FRAMEWORKS = list(PACKAGES)


def framework_input(fw, X, y):
    """``X`` (NumPy, NCHW) and ``y`` as framework ``fw`` takes them."""
    if fw == "torch":
        return torch.from_numpy(X), torch.from_numpy(y)
    X = np.ascontiguousarray(X.transpose(0, 2, 3, 1))
    return (tf.constant(X), tf.constant(y)) if fw == "tensorflow" else (X, y)


def other_layout(fw, X):
    """A batch ``X`` of framework ``fw`` in the other layout (NHWC <-> NCHW)."""
    if fw == "torch":
        return X.permute(0, 2, 3, 1)
    return tf.transpose(X, (0, 3, 1, 2)) if fw == "tensorflow" else X.transpose(0, 3, 1, 2)

PAPER_DEPTH = {"ResNet-18": 18, "ResNet-34": 34, "ResNet-50": 50, "ResNet-101": 101,
               "ResNet-152": 152, "ResNeXt-50 (32x4d)": 50}


@pytest.fixture(scope="module")
def torch_costs():
    costs = {}
    for name, spec in VARIANTS.items():
        costs[name] = d2l_torch.block_cost(d2l_torch.ResNet(spec), (1, 3, 224, 224))
    return costs


def test_variants_have_the_papers_depths():
    assert {name: v.num_layers for name, v in VARIANTS.items()} == PAPER_DEPTH
    assert cifar_variant(20).num_layers == 20 and cifar_variant(56).num_layers == 56
    assert variant("resnet50") is VARIANTS["ResNet-50"]
    assert variant("ResNeXt-50") is VARIANTS["ResNeXt-50 (32x4d)"]


def test_block_plan_of_resnet50():
    """Stage 1 keeps the resolution, later stages halve it in their first block;
    each block reads the previous block's channels."""
    stages = VARIANTS["ResNet-50"].block_args()
    assert [len(s) for s in stages] == [3, 4, 6, 3]
    assert stages[0][0] == dict(in_channels=64, out_channels=256, stride=1, shortcut=True,
                                bot_channels=64, groups=1, stride_on="1x1")
    assert stages[0][1]["in_channels"] == 256
    assert [(s[0]["in_channels"], s[0]["stride"]) for s in stages[1:]] == [
        (256, 2), (512, 2), (1024, 2)]
    assert all(b["stride"] == 1 for s in stages for b in s[1:])
    assert "bot_channels" not in VARIANTS["ResNet-18"].block_args()[0][0]


@pytest.mark.parametrize("name", VARIANTS)
def test_torch_flops_match_the_paper(name, torch_costs):
    gmacs = torch_costs[name]["flops"] / 2e9
    assert gmacs == pytest.approx(VARIANTS[name].paper_gmacs, rel=0.02)


@pytest.mark.parametrize("name", [n for n, v in VARIANTS.items() if v.paper_params])
def test_torch_params_match_the_paper(name, torch_costs):
    assert torch_costs[name]["params"] / 1e6 == pytest.approx(
        VARIANTS[name].paper_params, rel=0.005)


def test_stride_placement_explains_the_resnext_papers_resnet50():
    """Moving the stride of ResNet-50 from the 1x1 to the 3x3 convolution gives the
    4.1 GFLOPs that Xie et al. (2017, Table 1) list for their ResNet-50; same params."""
    spec = VARIANTS["ResNet-50"].replace(stride_on="3x3")
    cost = d2l_torch.block_cost(d2l_torch.ResNet(spec), (1, 3, 224, 224))
    assert cost["flops"] / 2e9 == pytest.approx(4.1, rel=0.01)
    original = d2l_torch.block_cost(d2l_torch.ResNet("ResNet-50"), (1, 3, 224, 224))
    assert cost["params"] == original["params"] and cost["flops"] > original["flops"]


def test_basic_and_bottleneck_parameter_counts_from_first_principles():
    """ResNet-18 from its layers: stem, blocks, projections (conv+BN), classifier."""
    def conv(k, i, o):
        return k * k * i * o

    def bn(c):
        return 2 * c

    total = conv(7, 3, 64) + bn(64)
    c_in = 64
    for c, n in ((64, 2), (128, 2), (256, 2), (512, 2)):
        for _ in range(n):
            total += conv(3, c_in, c) + bn(c) + conv(3, c, c) + bn(c)
            if c_in != c:
                total += conv(1, c_in, c) + bn(c)
            c_in = c
    total += 512 * 1000 + 1000
    assert d2l_torch.count_params(d2l_torch.ResNet("ResNet-18"), (1, 3, 64, 64)) == total


@pytest.mark.parametrize("name", VARIANTS)
def test_tensorflow_counts_equal_pytorchs(name, torch_costs):
    cost = d2l_tf.block_cost(d2l_tf.ResNet(VARIANTS[name]), (1, 224, 224, 3))
    assert cost == torch_costs[name]


def test_preactivation_changes_only_batch_norm_placement():
    for name in ("ResNet-18", "ResNet-50"):
        post = d2l_torch.ResNet(name)
        pre = d2l_torch.ResNet(VARIANTS[name].replace(preact=True))
        convs = [m.weight.shape for m in post.modules() if isinstance(m, torch.nn.Conv2d)]
        assert convs == [m.weight.shape for m in pre.modules()
                         if isinstance(m, torch.nn.Conv2d)]
        assert isinstance(pre.net.head[0], torch.nn.BatchNorm2d)


PARITY = {
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
    "resnext-mini": (lambda m: m.ResNet(Variant(
        "mini", "bottleneck", depths=(1, 1), widths=(32, 64), bottleneck_widths=(16, 32),
        groups=4, stride_on="3x3", stem_channels=16), 10, 3), (2, 3, 64, 64)),
}


@pytest.mark.parametrize("training", [True, False], ids=["train", "inference"])
@pytest.mark.parametrize("name", PARITY)
def test_family_pytorch_and_tensorflow_agree(name, training):
    assert_same_function(*PARITY[name], training)


def test_plain_block_has_no_shortcut_and_identity_block_adds_its_input():
    block = d2l_torch.BasicBlock(4, 4)
    torch.nn.init.zeros_(block.bn2.weight)  # last BN scale 0: branch is zero
    X = torch.randn(2, 4, 5, 5)
    block.eval()
    assert torch.allclose(block(X), torch.relu(X))
    plain = d2l_torch.BasicBlock(4, 4, shortcut=False)
    torch.nn.init.zeros_(plain.bn2.weight)
    plain.eval()
    assert torch.count_nonzero(plain(X)) == 0


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_gradients_explode_in_the_deep_plain_net_only(fw):
    """At initialization, the gradient reaching the first convolution of the 56-layer
    plain net is orders of magnitude larger than at its last; shortcuts tame that."""
    m = PACKAGES[fw]
    m.seed_everything(0)
    rng = np.random.default_rng(0)
    X, y = framework_input(fw, rng.random((32, 1, 28, 28), dtype=np.float32),
                           rng.integers(0, 10, 32))
    ratios, peaks = {}, {}
    for shortcuts in (False, True):
        norms = m.gradient_norms(m.ResNet(cifar_variant(56, shortcuts), 10, 1), X, y)
        assert len(norms) == 55  # stem + 54 block convolutions; shortcuts left out
        ratios[shortcuts] = norms[0] / norms[-1]
        peaks[shortcuts] = max(norms) / norms[-1]
    assert ratios[False] > 100
    assert ratios[True] < ratios[False] / 10
    assert peaks[True] < 50  # bench/degradation_seeds.py: at most 28 over 10 seeds


@pytest.mark.parametrize("kwargs, match", [
    (dict(block="dense"), "block must be one of"),
    (dict(depths=(2, 2), widths=(64,)), "one width per stage"),
    (dict(depths=(2, 0), widths=(64, 128)), "positive ints"),
    (dict(block="bottleneck", bottleneck_widths=(64,)), "one bottleneck width per stage"),
    (dict(block="bottleneck", bottleneck_widths=(30, 60), groups=4), "must divide"),
    (dict(groups=2), "bottleneck blocks only"),
    (dict(stem="tiny"), "stem must be one of"),
    (dict(stride_on="7x7"), "stride_on"),
])
def test_variant_rejects_bad_specs(kwargs, match):
    spec = dict(name="x", block="basic", depths=(2, 2), widths=(64, 128))
    with pytest.raises(ValueError, match=match):
        Variant(**{**spec, **kwargs})


def test_bad_names_and_depths():
    with pytest.raises(ValueError, match="unknown variant"):
        variant("ResNet-19")
    with pytest.raises(ValueError, match="6n\\+2"):
        cifar_variant(21)


# The fix each framework's message names for an image batch in the other layout.
LAYOUT_FIX = {"torch": "channels-last.*permute", "tensorflow": "channels-first.*transpose",
              "jax": "channels-first.*transpose"}


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_wrong_input_is_named_with_the_fix(fw):
    m = PACKAGES[fw]
    with pytest.raises(TypeError, match="Variant or a variant name"):
        m.ResNet(((2, 64),))
    model = m.ResNet(cifar_variant(8), 10, 1)
    X, _ = framework_input(fw, np.zeros((2, 1, 28, 28), np.float32), np.zeros(2))
    with pytest.raises(ValueError, match=LAYOUT_FIX[fw]):
        model(other_layout(fw, X))
    with pytest.raises(ValueError, match="4-D"):
        model(X[0])


def test_family_model_trains_with_the_books_trainer(tiny_data_dir):
    d2l_torch.seed_everything(0)
    data = d2l_torch.FashionMNIST(batch_size=50, root=tiny_data_dir)
    model = d2l_torch.ResNet(cifar_variant(8), 10, 1, lr=0.1)
    history = d2l_torch.Trainer(3, plot=False, progress=False).fit(model, data)
    assert history.train_loss[-1] < history.train_loss[0]


def test_smoothing_and_plots_are_localized():
    assert plots.smooth([1, 3, 5, 7], 2).tolist() == [1, 2, 4, 6]
    import d2l_resnet

    d2l_resnet.set_language("pt")
    try:
        plot = plots.gradient_norm_plot({"Plain-20": [1.0, 0.5], "ResNet-20": [1.0, 0.9]})
        assert plot.figure.axes[0].get_ylabel() == "norma do gradiente"
        assert plot._repr_png_().startswith(b"\x89PNG")
        history = History(train_loss=[2.0, 2.0], batch_loss=[2.0] * 10)
        curves = plots.loss_curves({"Plain-20": history}, window=3)
        assert curves.figure.axes[0].get_xlabel() == "época"
        line = curves.figure.axes[0].lines[0]
        assert line.get_linestyle() == "--" and line.get_xdata()[-1] == 2.0  # epochs
    finally:
        d2l_resnet.set_language("en")


TINY = Variant("tiny", "basic", depths=(2, 2), widths=(8, 16), stem="cifar",
               stem_channels=8)  # blocks 8->8, 8->8, 8->16 (stride 2), 16->16


def _tiny_lesion_setup(fw, shortcuts):
    """A tiny model, images, and as labels the model's own predictions (accuracy 1)."""
    m = {"torch": d2l_torch, "tensorflow": d2l_tf}[fw]
    m.seed_everything(0)
    model = m.ResNet(TINY.replace(shortcuts=shortcuts), 10, 1)
    rng = np.random.default_rng(0)
    # Images of different contrasts, and random batch-norm statistics and affine
    # parameters: an untrained net would otherwise predict one class for all images.
    X = rng.normal(rng.normal(0, 2, (48, 1, 1, 1)), rng.uniform(0.1, 3, (48, 1, 1, 1)),
                   (48, 1, 12, 12)).astype(np.float32)
    bn_values = [rng.uniform(0.5, 1.5, 64), rng.normal(0, 0.5, 64), rng.normal(0, 0.3, 64),
                 rng.uniform(0.5, 1.5, 64)]  # scale, shift, mean, variance
    if fw == "torch":
        from d2l_resnet.torch.train import _autocast_dtype

        X = torch.from_numpy(X)
        dtype = _autocast_dtype("auto", torch.device("cpu"))
        model.eval()
        with torch.no_grad():
            for bn in (mod for mod in model.modules()
                       if isinstance(mod, torch.nn.BatchNorm2d)):
                for tensor, values in zip((bn.weight, bn.bias, bn.running_mean,
                                           bn.running_var), bn_values):
                    tensor.copy_(torch.from_numpy(values[:len(tensor)]))

        def predict(layers):
            with torch.inference_mode(), torch.autocast("cpu", dtype=dtype,
                                                        enabled=dtype is not None):
                return torch.nn.Sequential(*layers)(X).argmax(1)

        blocks = [b for stage in (model.net.stage1, model.net.stage2) for b in stage]
        stem, head = model.net.stem, model.net.head
    else:
        X = tf.constant(X.transpose(0, 2, 3, 1))
        model(X[:1], training=False)
        for bn in (layer for layer in model._flatten_layers(include_self=False)
                   if isinstance(layer, tf.keras.layers.BatchNormalization)):
            bn.set_weights([v[:bn.gamma.shape[0]].astype(np.float32) for v in bn_values])

        @tf.function
        def run(layers, X):
            for layer in layers:
                X = layer(X, training=False)
            return tf.argmax(X, axis=1, output_type=tf.int32)

        def predict(layers):
            return run(layers, X)

        blocks = [b for name in ("stage1", "stage2") for b in model.net.get_layer(name).layers]
        stem, head = model.net.get_layer("stem"), model.net.get_layer("head")
    return m, model, X, predict, stem, blocks, head


@pytest.mark.parametrize("shortcuts", [True, False], ids=["residual", "plain"])
@pytest.mark.parametrize("fw", ["torch", "tensorflow"])
def test_lesion_deletes_one_block_at_a_time(fw, shortcuts):
    """Deleting nothing gives the model's accuracy; deleting block k gives the accuracy
    of the same network built without block k; the block that changes the shape is
    reported as not deletable."""
    m, model, X, predict, stem, blocks, head = _tiny_lesion_setup(fw, shortcuts)
    y = predict([stem, *blocks, head])
    result = m.lesion_accuracies(model, X, y, batch_size=20)  # 3 batches, last one short
    assert result["intact"] == 1.0
    assert result["skipped"] == [2] and np.isnan(result["deleted"][2])
    for k in (0, 1, 3):
        expected = float(np.mean(np.asarray(predict(
            [stem, *blocks[:k], *blocks[k + 1:], head])) == np.asarray(y)))
        assert result["deleted"][k] == pytest.approx(expected, abs=1e-12)
    if shortcuts:
        # Deleting changes predictions, so the equalities above are not vacuous. Not
        # asked of the plain net: untrained, it can predict one class for every image
        # whatever is deleted (it does in float32, on a CPU without bf16 autocast).
        assert min(result["deleted"][k] for k in (0, 1, 3)) < 1.0


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_lesion_rejects_bad_input(fw):
    m = PACKAGES[fw]
    model = m.ResNet(TINY, 10, 1)
    X, y = framework_input(fw, np.zeros((6, 1, 12, 12), np.float32),
                           np.zeros(6, dtype=np.int64 if fw == "torch" else np.int32))
    with pytest.raises(ValueError, match="same positive number"):
        m.lesion_accuracies(model, X, y[:-1])
    with pytest.raises(ValueError, match="same positive number"):
        m.lesion_accuracies(model, X[:0], y[:0])
    with pytest.raises(ValueError, match="batch_size"):
        m.lesion_accuracies(model, X, y, batch_size=0)
    with pytest.raises(TypeError, match="must be a ResNet of the ResNet family"):
        m.lesion_accuracies(model.net, X, y)
    with pytest.raises(ValueError, match="channels"):
        m.lesion_accuracies(model, other_layout(fw, X), y)


def test_lesion_plot_is_localized_and_shades_the_downsampling_blocks():
    import d2l_resnet

    result = {"intact": 0.8, "deleted": [0.7, float("nan"), 0.75], "skipped": [1]}
    wider = {"intact": 0.6, "deleted": [0.5] * 5 + [float("nan")], "skipped": [5]}
    d2l_resnet.set_language("fr")
    try:
        plot = plots.lesion_plot({"ResNet-20": result, "Plain-20": wider})
        left, right = plot.figure.axes
        assert [left.get_title(), right.get_title()] == ["ResNet-20", "Plain-20"]
        assert plot.figure.get_supxlabel() == "bloc supprimé, de l'entrée vers la sortie"
        assert left.get_ylabel() == "exactitude de validation"
        assert np.isnan(left.lines[0].get_ydata()[1])  # a gap where no block is deleted
        assert right.lines[0].get_linestyle() == "--"  # plain networks dashed
        # one grey span per block that cannot be deleted, on that block's position
        (span,) = left.patches
        assert span.get_x() == pytest.approx(1.5) and span.get_width() == pytest.approx(1)
        legend = [t.get_text() for t in plot.figure.legends[0].get_texts()]
        assert legend == ["aucun bloc supprimé", "bloc de sous-échantillonnage (non supprimé)"]
        # panel widths follow the number of blocks: 3 against 6
        plot._repr_png_()  # lays the figure out
        ratio = right.get_position().width / left.get_position().width
        assert 1.6 < ratio < 2.2
    finally:
        d2l_resnet.set_language("en")
