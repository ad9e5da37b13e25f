"""The framework-neutral code that the three packages share, tested once, with no
framework but in one test: variant resolution and lesion bookkeeping (``variants``), the training
loop (``training.BaseTrainer``), the batching of ``data.Batches``, and the registry
of languages and frameworks that the tools, the Sphinx extensions and the tests read.
"""

import importlib
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from d2l_resnet import data, i18n, registry, training
from d2l_resnet.variants import (
    VARIANTS,
    as_variant,
    check_lesion_inputs,
    cifar_variant,
    lesion_drops,
    lesion_result,
    variant,
)

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------- variants
@pytest.mark.parametrize("spec,expected", [
    (variant("ResNet-18"), "BasicBlock"), (variant("ResNet-50"), "Bottleneck"),
    (cifar_variant(20, preact=True), "PreActBlock"),
    (variant("ResNet-50").replace(preact=True), "PreActBottleneck"),
    (cifar_variant(20, shortcuts=False), "BasicBlock")])
def test_block_class_names_the_class_of_every_package(spec, expected):
    assert spec.block_class == expected
    for fw in registry.FRAMEWORKS.values():  # the one test here that loads frameworks
        models = importlib.import_module(f"d2l_resnet.{fw.package}.models")
        assert models.BLOCKS[spec.block_class].__name__ == expected


def test_deletable_blocks_are_those_that_keep_the_shape():
    # ResNet-20: three stages of three blocks; the first block of stages 2 and 3
    # halves the resolution and doubles the width, the first of stage 1 keeps both.
    assert cifar_variant(20).deletable_blocks() == [True] * 3 + [False, True, True] * 2
    # ResNet-50: every stage's first block changes the width (64 -> 256 in stage 1).
    assert variant("ResNet-50").deletable_blocks() == (
        [False, True, True] + [False] + [True] * 3 + [False] + [True] * 5
        + [False, True, True])


def test_as_variant_takes_a_variant_or_its_name():
    spec = VARIANTS["ResNet-34"]
    assert as_variant(spec) is spec and as_variant("resnet34") is spec
    with pytest.raises(TypeError, match="Variant or a variant name"):
        as_variant(34)
    with pytest.raises(ValueError, match="unknown variant"):
        as_variant("ResNet-35")


def test_lesion_result_places_the_counts_and_the_gaps():
    deletable = [True, False, True]
    result = lesion_result([8, 6, 2], deletable, num_images=10)
    assert result["intact"] == 0.8 and result["skipped"] == [1]
    assert result["deleted"][0] == 0.6 and result["deleted"][2] == 0.2
    assert math.isnan(result["deleted"][1])
    with pytest.raises(ValueError, match="expected 3 counts"):
        lesion_result([8, 6, 2, 1], deletable, num_images=10)


def test_lesion_drops_group_the_first_block_those_after_downsampling_and_the_rest():
    # ResNet-20's layout: blocks 3 and 6 downsample, 4 and 7 follow them.
    deletable = cifar_variant(20).deletable_blocks()
    accuracies = {0: 0.2, 1: 0.7, 2: 0.6, 4: 0.5, 5: 0.75, 7: 0.4, 8: 0.65}
    counts = [80] + [int(accuracies[k] * 100) for k, ok in enumerate(deletable) if ok]
    drops = lesion_drops(lesion_result(counts, deletable, num_images=100))
    assert drops["intact"] == 0.8
    assert drops["first"] == pytest.approx(0.6)
    assert drops["after_downsampling"] == pytest.approx(0.4)  # block 7, not 4 (0.3)
    # the others: blocks 1, 2, 5, 8 -> drops 0.1, 0.2, 0.05, 0.15
    assert drops["others_median"] == pytest.approx(0.125)
    assert drops["others_largest"] == pytest.approx(0.2)
    # ResNet-50: the first block changes the width, so it cannot be deleted
    deletable = variant("ResNet-50").deletable_blocks()
    drops = lesion_drops(lesion_result([50] + [40] * sum(deletable), deletable, 100))
    assert math.isnan(drops["first"])
    assert drops["after_downsampling"] == pytest.approx(0.1)


def test_lesion_inputs_are_checked_before_any_work():
    class Family:
        pass

    check_lesion_inputs(Family(), Family, 4, 4, 2)
    with pytest.raises(TypeError, match="must be a Family of the ResNet family, got int"):
        check_lesion_inputs(3, Family, 4, 4, 2)
    for images, labels, batch in ((4, 3, 2), (0, 0, 2)):
        with pytest.raises(ValueError, match="same positive number of examples"):
            check_lesion_inputs(Family(), Family, images, labels, batch)
    for batch in (0, True, 2.0):
        with pytest.raises(ValueError, match="batch_size must be a positive int"):
            check_lesion_inputs(Family(), Family, 4, 4, batch)


# ------------------------------------------------------------------------- training
class _Model:
    """A one-weight least-squares model, trained by a NumPy step."""

    def __init__(self, lr):
        self.lr, self.w, self.modes = lr, 0.0, []


class _NumpyTrainer(training.BaseTrainer):
    """BaseTrainer's contract, met in NumPy: a step that returns the summed loss."""

    def _session(self, model, data, lr):
        import contextlib

        @contextlib.contextmanager
        def session():
            def train_step(X, y):
                grad = np.mean(2 * (model.w * X - y) * X)
                loss_sum = np.sum((model.w * X - y) ** 2)
                model.w -= lr * grad
                return loss_sum
            yield train_step
        return session()

    def _train_batches(self, data):
        return data

    def _sums_to_host(self, sums):
        return np.array(sums)

    def _device_name(self):
        return "NUMPY"

    def _train_mode(self, model):
        model.modes.append("train")

    def evaluate(self, model, data):
        model.modes.append("eval")
        return 0.5, 0.25


def test_the_shared_loop_records_what_the_step_returns():
    X = np.arange(1.0, 7.0)
    batches = [(X[:4], 2 * X[:4]), (X[4:], 2 * X[4:])]  # y = 2x; batches of 4 and 2
    model = _Model(lr=0.01)
    trainer = _NumpyTrainer(3, plot=False, progress=False, validation_freq=2)
    history = trainer.fit(model, batches)
    assert history.device == "NUMPY" and history.train_images == 3 * 6
    assert len(history.batch_loss) == 6 and len(history.train_loss) == 3
    # The epoch loss is the image-weighted mean of the batch losses.
    first = history.batch_loss[:2]
    assert history.train_loss[0] == pytest.approx((4 * first[0] + 2 * first[1]) / 6)
    assert history.train_loss[2] < history.train_loss[0]  # it learns w = 2
    # Validation after epoch 2 and after the last, training mode before every epoch.
    assert math.isnan(history.val_acc[0]) and history.val_acc[1:] == [0.25, 0.25]
    assert model.modes == ["train", "train", "eval", "train", "eval"]
    assert history.seconds > 0 and len(history.epoch_seconds) == 3


@pytest.mark.parametrize("lr", [None, 0, -0.1, float("nan"), True, "0.1"])
def test_the_shared_loop_asks_for_a_positive_learning_rate(lr):
    with pytest.raises(ValueError, match="positive learning rate attribute 'lr'"):
        _NumpyTrainer(1, plot=False, progress=False).fit(_Model(lr), [])


def test_mixed_precision_choices_are_named():
    assert training.check_mixed_precision("bf16") == "bf16"
    with pytest.raises(ValueError, match="'auto', 'bf16', 'fp16' or 'off', got 'fp8'"):
        training.check_mixed_precision("fp8", ("auto", "bf16", "fp16", "off"))


# ----------------------------------------------------------------------------- data
class _Loader(data.FashionMNISTBase):
    """FashionMNISTBase without files: ten images whose pixels are their index."""

    def __init__(self, batch_size):
        self.batch_size, self.resize = batch_size, (28, 28)
        self.train = (np.arange(10)[:, None], np.arange(10))
        self.val = (np.arange(5)[:, None], np.arange(5))
        self.rng = np.random.default_rng(0)

    def _permutation(self, n):
        return self.rng.permutation(n)

    def _batch(self, images, labels, index, device):
        return images[index], labels[index]


def test_batches_cover_every_example_once_in_full_batches_then_the_rest():
    loader = _Loader(batch_size=4)
    train = loader.train_dataloader()
    assert len(train) == 3 and [len(y) for _, y in train] == [4, 4, 2]
    seen = np.concatenate([y for _, y in train])
    assert sorted(seen) == list(range(10)) and list(seen) != list(range(10))
    assert all(np.array_equal(X[:, 0], y) for X, y in train)  # images stay with labels
    val = [y for _, y in loader.val_dataloader()]
    assert [list(y) for y in val] == [[0, 1, 2, 3], [4]]  # in order


def test_a_loader_describes_itself_and_its_batches_have_a_length():
    # The loader's repr names its sizes (a notebook cell that ends with ``data`` shows
    # it); the Batches it hands out report their number of batches.
    loader = _Loader(batch_size=4)
    assert repr(loader) == "_Loader(10 training and 5 validation images, batch 4, resized to 28x28)"
    assert len(loader.val_dataloader()) == 2


# ------------------------------------------------------------------------- registry
def test_the_registry_lists_the_editions_and_the_framework_packages():
    editions = sorted(p.name for p in (ROOT / "book").iterdir()
                      if (p / "_config.yml").is_file())
    assert sorted(registry.LANGUAGES) == editions
    assert list(registry.FRAMEWORKS)[0] == "pytorch"  # the first tab, the reference
    for fw in registry.FRAMEWORKS.values():
        assert (ROOT / "src" / "d2l_resnet" / fw.package / "__init__.py").is_file()


def test_tools_and_extensions_read_the_registry():
    sys.path[:0] = [str(ROOT / "tools"), str(ROOT / "_ext")]
    import framework_tabs

    import build_book
    import figures
    import nbval_times
    import notebooks

    codes = tuple(registry.LANGUAGES)
    assert build_book.EDITIONS == figures.LANGS == i18n.LANGUAGES == codes
    assert tuple(framework_tabs.FRAMEWORKS) == nbval_times.FRAMEWORKS == tuple(
        registry.FRAMEWORKS) == tuple(notebooks.MODULES)
    assert notebooks.MODULES["pytorch"] == "d2l_resnet.torch"
