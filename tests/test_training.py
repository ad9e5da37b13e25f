"""Loaders and trainers of the three frameworks, on the tiny fixture (seconds, not minutes).

One behaviour suite, parametrized over the framework packages: what ``FashionMNIST``
hands out, what ``Trainer.fit`` checks, learns and records, and the progress board.
Framework-specific parts (TensorFlow's tf.data options and fused batch norm, JAX's
compilation of its step) follow the shared suite.
"""

import numpy as np
import pytest
import torch

from d2l_resnet import torch as d2l_torch
from d2l_resnet.variants import Variant

tf = pytest.importorskip("tensorflow")
jnp = pytest.importorskip("jax.numpy")
from flax import nnx

from d2l_resnet import jax as d2l_jax
from d2l_resnet import tensorflow as d2l_tf

# The smallest networks of the family: the ImageNet stem, one or two basic blocks.
ONE_BLOCK = Variant("one-block", "basic", depths=(1,), widths=(64,))
TWO_BLOCKS = Variant("two-blocks", "basic", depths=(1, 1), widths=(64, 128))

FRAMEWORKS = {"torch": d2l_torch, "tensorflow": d2l_tf, "jax": d2l_jax}
BF16 = {"torch": torch.bfloat16, "tensorflow": tf.bfloat16, "jax": jnp.bfloat16}


def running_mean(fw, model):
    """The running mean of the model's first batch norm, as a NumPy array."""
    if fw == "torch":
        bn = next(m for m in model.modules() if hasattr(m, "running_mean"))
        return bn.running_mean.numpy()
    if fw == "tensorflow":
        return next(v for v in model.variables if v.name == "moving_mean").numpy()
    bn = next(m for _, m in nnx.iter_graph(model) if hasattr(m, "use_running_average"))
    return np.asarray(bn.mean.value)


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_loader_batches(fw, tiny_data_dir):
    data = FRAMEWORKS[fw].FashionMNIST(batch_size=64, resize=(32, 40), root=tiny_data_dir,
                                       num_train=150)
    batches = list(data.train_dataloader())
    assert [len(y) for _, y in batches] == [64, 64, 22]
    X, y = batches[0]
    X = np.asarray(X)
    assert X.shape == ((64, 1, 32, 40) if fw == "torch" else (64, 32, 40, 1))
    assert X.dtype == np.float32 and 0 <= X.min() and X.max() <= 1
    labels = np.concatenate([np.asarray(y) for _, y in batches])
    assert sorted(labels) == sorted(np.asarray(data.train[1])[:150].tolist())
    assert len(set(labels)) > 5
    val = np.concatenate([np.asarray(y) for _, y in data.val_dataloader()])
    np.testing.assert_array_equal(val, np.asarray(data.val[1]))


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_training_shuffles_every_epoch(fw, tiny_data_dir):
    data = FRAMEWORKS[fw].FashionMNIST(batch_size=200, root=tiny_data_dir)
    first = [np.asarray(y).tolist() for _, y in data.train_dataloader()]
    second = [np.asarray(y).tolist() for _, y in data.train_dataloader()]
    assert first != second and sorted(first[0]) == sorted(second[0])


@pytest.mark.parametrize("fw", ["tensorflow", "jax"])
def test_channels_last_loaders_resize_like_pytorchs(fw, tiny_data_dir):
    pt = d2l_torch.FashionMNIST(batch_size=8, resize=(96, 96), root=tiny_data_dir)
    other = FRAMEWORKS[fw].FashionMNIST(batch_size=8, resize=(96, 96), root=tiny_data_dir)
    X_pt, y_pt = next(iter(pt.val_dataloader()))
    X, y = next(iter(other.val_dataloader()))
    np.testing.assert_allclose(X_pt.numpy().transpose(0, 2, 3, 1), np.asarray(X), atol=1e-5)
    np.testing.assert_array_equal(y_pt.numpy(), np.asarray(y))


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("kwargs,match", [
    (dict(batch_size=0), "batch_size must be a positive integer"),
    (dict(resize=(96,)), "resize must be"),
    (dict(num_train=-5), "num_train must be a positive integer"),
])
def test_loader_rejects_bad_arguments(fw, tiny_data_dir, kwargs, match):
    with pytest.raises(ValueError, match=match):
        FRAMEWORKS[fw].FashionMNIST(root=tiny_data_dir, **kwargs)


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("epochs", [0, -1, 1.5])
def test_trainer_rejects_bad_epochs(fw, epochs):
    with pytest.raises(ValueError, match="max_epochs must be a positive integer"):
        FRAMEWORKS[fw].Trainer(max_epochs=epochs)


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_fit_learns_on_tiny_data(fw, tiny_data_dir):
    """Three epochs on 200 images: the training loss must fall and be recorded, batch
    by batch, and evaluation uses the running statistics that training updated."""
    m = FRAMEWORKS[fw]
    m.seed_everything(0)
    data = m.FashionMNIST(batch_size=32, resize=(28, 28), root=tiny_data_dir)
    model = m.ResNet(TWO_BLOCKS, 10, 1, lr=0.05)
    history = m.Trainer(max_epochs=3, plot=False, progress=False).fit(model, data)
    assert len(history.train_loss) == len(history.val_loss) == len(history.val_acc) == 3
    assert history.train_loss[-1] < history.train_loss[0]
    assert all(0 <= a <= 1 for a in history.val_acc)
    assert history.train_images == 600 and history.seconds > 0
    assert len(history.epoch_seconds) == 3 and sum(history.epoch_seconds) <= history.seconds
    assert history.device  # "CPU", "cuda:0", ...: what History.summary prints
    # Every batch's loss is kept: 7 batches (6 of 32, 1 of 8) per epoch, and each
    # epoch's loss is their mean weighted by batch size.
    assert len(history.batch_loss) == 3 * 7
    sizes = np.array([32] * 6 + [8])
    for epoch in range(3):
        batches = np.array(history.batch_loss[7 * epoch:7 * (epoch + 1)])
        assert np.isclose((batches * sizes).sum() / 200, history.train_loss[epoch], rtol=1e-5)
    assert not np.allclose(running_mean(fw, model), 0)


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("lr", [0, -0.1, None, True])
def test_fit_requires_a_positive_learning_rate(fw, lr, tiny_data_dir):
    m = FRAMEWORKS[fw]
    data = m.FashionMNIST(batch_size=100, root=tiny_data_dir)
    model = m.ResNet(ONE_BLOCK, 10, 1, lr=0.05)
    model.lr = lr
    with pytest.raises(ValueError, match="positive learning rate"):
        m.Trainer(max_epochs=1, plot=False, progress=False).fit(model, data)


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_mixed_precision_choice(fw):
    m = FRAMEWORKS[fw]
    assert m.Trainer(1, mixed_precision="off").dtype is None
    assert m.Trainer(1, mixed_precision="bf16").dtype == BF16[fw]
    # PyTorch offers 'fp16' as well (for GPUs without bf16).
    choices = "mixed_precision must be 'auto', 'bf16'.* or 'off', got 'fp8'"
    with pytest.raises(ValueError, match=choices):
        m.Trainer(1, mixed_precision="fp8")


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_validation_freq_validates_every_nth_epoch_and_the_last(fw, tiny_data_dir):
    """validation_freq=2 over 3 epochs: validation after epochs 2 and 3 only (the last
    one always); epoch 1 records NaN, the plot and the summary skip it. The board
    draws the three curves, labelled in the current language."""
    m = FRAMEWORKS[fw]
    data = m.FashionMNIST(batch_size=100, resize=(28, 28), root=tiny_data_dir)
    trainer = m.Trainer(max_epochs=3, progress=False, validation_freq=2)
    history = trainer.fit(m.ResNet(ONE_BLOCK, 10, 1, lr=0.05), data)
    assert np.isnan(history.val_loss[0]) and np.isnan(history.val_acc[0])
    assert all(0 <= a <= 1 for a in history.val_acc[1:])
    assert np.isfinite(history.val_loss[1:]).all() and np.isfinite(history.train_loss).all()
    points = trainer.board.points
    assert points["train_loss"][0] == [1, 2, 3]
    assert points["val_loss"][0] == points["val_acc"][0] == [2, 3]
    labels = [line.get_label() for line in trainer.board.ax.get_lines()]
    assert labels == ["train loss", "validation loss", "validation accuracy"]
    assert "nan" not in history.summary()


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("freq", [0, -2, 1.5, True])
def test_validation_freq_must_be_a_positive_integer(fw, freq):
    with pytest.raises(ValueError, match="validation_freq must be a positive integer"):
        FRAMEWORKS[fw].Trainer(max_epochs=3, validation_freq=freq)


def test_validates_after_every_nth_epoch_and_the_last():
    from d2l_resnet.training import validates

    assert [e for e in range(1, 6) if validates(e, 5, 1)] == [1, 2, 3, 4, 5]
    assert [e for e in range(1, 6) if validates(e, 5, 2)] == [2, 4, 5]
    assert [e for e in range(1, 4) if validates(e, 3, 3)] == [3]
    assert [e for e in range(1, 4) if validates(e, 3, 10)] == [3]


# ------------------------------------------------------------ framework-specific parts
def test_tensorflow_pipelines_do_not_autotune(tiny_data_dir):
    """tf.data's autotuner halved the speed of whole epochs on one core (see data.py);
    the pipelines still parallelize and prefetch, at fixed defaults."""
    data = d2l_tf.FashionMNIST(batch_size=64, resize=(48, 48), root=tiny_data_dir)
    for ds in (data.train_dataloader(), data.val_dataloader()):
        assert ds.options().autotune.enabled is False
        assert len(list(ds)) == -(-len(data.val[1] if ds is data.val_dataloader()
                                      else data.train[1]) // 64)


def test_tensorflow_bf16_applies_to_unbuilt_models_only(tiny_data_dir):
    data = d2l_tf.FashionMNIST(batch_size=100, root=tiny_data_dir)
    fresh = d2l_tf.ResNet(ONE_BLOCK, 10, 1, lr=0.05)
    built = d2l_tf.ResNet(ONE_BLOCK, 10, 1, lr=0.05)
    built(tf.zeros((1, 28, 28, 1)))
    for model in (fresh, built):
        d2l_tf.Trainer(1, mixed_precision="bf16", plot=False, progress=False).fit(model, data)
    def stem_conv(model):  # the stem's 7x7 convolution, after its padding
        return model.net.get_layer("stem").layers[0].layers[1]

    conv = stem_conv(fresh)
    assert conv.compute_dtype == "bfloat16" and conv.kernel.dtype == "float32"
    assert fresh.net.layers[-1].layers[-1].compute_dtype == "float32"  # the logits
    assert stem_conv(built).compute_dtype == "float32"  # built: unchanged


def test_jax_trainer_compiles_its_training_step_once(tiny_data_dir, caplog):
    """One XLA compilation of the training step per fit: the first step's arguments
    are placed on the device like every later step's (an uncommitted optimizer step
    counter made XLA compile the step a second time, 6 s for a ResNet-56)."""
    import jax

    data = d2l_jax.FashionMNIST(batch_size=50, resize=(28, 28), root=tiny_data_dir)
    caplog.set_level("WARNING")
    with jax.log_compiles():
        history = d2l_jax.Trainer(max_epochs=2, plot=False, progress=False).fit(
            d2l_jax.ResNet(ONE_BLOCK, 10, 1, lr=0.05), data)
    assert len(history.train_loss) == 2
    compiles = [r for r in caplog.records
                if r.getMessage().startswith("Compiling jit(_train_step)")]
    assert len(compiles) == 1, [r.getMessage()[:200] for r in compiles]


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "inference"])
def test_fused_batch_norm_computes_what_keras_does(policy, training):
    """The library's batch norm (one fused op) against Keras' own: outputs, gradients
    and the moving statistics (Keras keeps the biased batch variance)."""
    from d2l_resnet.tensorflow.layers import BatchNormalization, batch_norm

    assert isinstance(batch_norm(), tf.keras.layers.BatchNormalization)
    X = tf.random.stateless_normal((4, 5, 6, 8), seed=(1, 2)) * 3 + 1
    rng = np.random.default_rng(0)
    weights = [rng.uniform(0.5, 1.5, 8).astype("float32") for _ in range(4)]
    ref = tf.keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, dtype=policy)
    new = BatchNormalization(momentum=0.9, epsilon=1e-5, dtype=policy)
    results = []
    for layer in (ref, new):
        layer.build(X.shape)
        layer.set_weights(weights)
        with tf.GradientTape() as tape:
            tape.watch(X)
            Y = layer(X, training=training)
            loss = tf.reduce_sum(tf.cast(Y, tf.float32) * tf.range(8, dtype=tf.float32))
        grads = tape.gradient(loss, [X, layer.gamma, layer.beta])
        results.append((Y, grads, layer.get_weights()))
    (Y_ref, g_ref, w_ref), (Y_new, g_new, w_new) = results
    assert Y_new.dtype == Y_ref.dtype
    tol = 1e-5 if policy == "float32" else 1e-2
    np.testing.assert_allclose(tf.cast(Y_new, tf.float32), tf.cast(Y_ref, tf.float32),
                               rtol=tol, atol=tol)
    for a, b in zip(g_new, g_ref):
        np.testing.assert_allclose(tf.cast(a, tf.float32), tf.cast(b, tf.float32),
                                   rtol=tol, atol=tol * 10)
    for a, b in zip(w_new, w_ref):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
