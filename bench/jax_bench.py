"""JAX runs for the speed benchmark: a D2L-style baseline against the library's Trainer.

``bench/train_speed.py`` calls ``jax_baseline(arrays, args, make_model)`` and
``jax_library(arrays, args, make_model, data)``; ``arrays`` is ``(train_images,
train_labels, val_images, val_labels)`` with uint8 images (N, 28, 28), ``args`` has
``resize``, ``batch_size``, ``lr``, ``epochs``, ``seed``, ``data``, ``num_train`` and
``num_val``, and ``make_model()`` builds a fresh model (``model_factory``: the book's
ResNet-18, or a degradation network). Both return ``{"epoch_seconds": [...],
"val_acc": [...], "images": int, "train_loss": [...]}``.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from d2l_resnet import jax as d2l_jax


def _size(resize):
    return (resize, resize) if isinstance(resize, int) else tuple(resize)


def model_factory(args, spec=None):
    """A function that builds a fresh model: the book's ResNet-18 (``spec`` None) or the
    degradation page's network ``spec``, seeded with ``args.seed``."""
    def make():
        d2l_jax.seed_everything(args.seed)
        if spec is None:
            return d2l_jax.ResNet("ResNet-18", 10, 1, lr=args.lr)
        return d2l_jax.ResNet(spec, num_classes=10, in_channels=1, lr=args.lr)
    return make


def jax_baseline(arrays, args, make_model=None) -> dict:
    """The way D2L's JAX chapters train: float32, each image resized on the host (one
    ``jax.image.resize`` call per image), and the loss read back after every batch,
    which waits for the step to finish. Same model, data, learning rate and seed as
    ``jax_library``."""
    train_x, train_y, val_x, val_y = _cut(arrays, args)
    size = _size(args.resize)
    model = (make_model or model_factory(args))()
    optimizer = nnx.Optimizer(model, optax.sgd(args.lr), wrt=nnx.Param)

    @nnx.jit
    def train_step(model, optimizer, X, y):
        def loss_fn(model):
            return optax.softmax_cross_entropy_with_integer_labels(model(X), y).mean()
        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    @nnx.jit
    def predict(model, X):
        return model(X).argmax(axis=1)

    def resize_one(image):  # per image, on the host's default device, like a torchvision transform
        X = jnp.asarray(image, jnp.float32)[..., None] / 255
        return jax.image.resize(X, (*size, 1), method="bilinear") if size != (28, 28) else X

    rng = np.random.default_rng(args.seed)
    epoch_seconds, val_acc, train_loss = [], [], []
    for _ in range(args.epochs):
        start = time.perf_counter()
        model.train()
        order = rng.permutation(len(train_y))
        losses = []
        for i in range(0, len(order), args.batch_size):
            idx = order[i:i + args.batch_size]
            X = jnp.stack([resize_one(img) for img in train_x[idx]])
            loss = train_step(model, optimizer, X, jnp.asarray(train_y[idx], jnp.int32))
            losses.append(float(loss))  # read back every batch: a host sync
        model.eval()
        correct = 0
        for i in range(0, len(val_y), args.batch_size):
            X = jnp.stack([resize_one(img) for img in val_x[i:i + args.batch_size]])
            correct += int((np.asarray(predict(model, X)) == val_y[i:i + args.batch_size]).sum())
        epoch_seconds.append(time.perf_counter() - start)
        val_acc.append(correct / len(val_y))
        train_loss.append(float(np.mean(losses)))
    return {"epoch_seconds": epoch_seconds, "val_acc": val_acc,
            "images": args.epochs * len(train_y), "train_loss": train_loss}


def jax_data(args):
    return d2l_jax.FashionMNIST(batch_size=args.batch_size, resize=args.resize,
                                root=args.data, num_train=args.num_train,
                                num_val=args.num_val, seed=args.seed)


def jax_library(arrays, args, make_model=None, data=None) -> dict:
    """The library's way: ``Trainer(...).fit(model, FashionMNIST)``, one call."""
    data = data or jax_data(args)
    model = (make_model or model_factory(args))()
    history = d2l_jax.Trainer(max_epochs=args.epochs, plot=False, progress=False).fit(
        model, data)
    return {"epoch_seconds": history.epoch_seconds, "val_acc": history.val_acc,
            "images": history.train_images, "train_loss": history.train_loss}


def jax_step_flops(batch_size: int, resize, make_model=None) -> tuple[int, int]:
    """FLOPs of one training step (forward and backward) and of one evaluation step
    (forward) on a batch of ``batch_size`` images of size ``resize``: the convolutions
    and matrix products of the steps' jaxprs, each counted by XLA's cost analysis
    (``d2l_jax.utils.jaxpr_flops``, padding included). That is what PyTorch's
    ``flop_counter`` counts, so the two frameworks' GFLOP/s compare."""
    from d2l_resnet.jax.utils import jaxpr_flops

    # A concrete model, built outside any trace: model_factory reseeds the library's
    # global random keys, which must not be created inside nnx.eval_shape's trace.
    model = (make_model or (lambda: d2l_jax.ResNet("ResNet-18", 10, 1, rngs=nnx.Rngs(0))))()
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def step(params, rest, X, y):
        model = nnx.merge(graphdef, params, rest)
        grads = nnx.grad(lambda m: optax.softmax_cross_entropy_with_integer_labels(
            m(X), y).mean())(model)
        new = jax.tree.map(lambda p, g: p - 0.1 * g, nnx.state(model, nnx.Param), grads)
        return new, nnx.state(model, nnx.BatchStat)

    def forward(params, rest, X):
        model = nnx.merge(graphdef, params, rest)
        model.eval()
        return model(X)

    X = jax.ShapeDtypeStruct((batch_size, *_size(resize), 1), jnp.float32)
    y = jax.ShapeDtypeStruct((batch_size,), jnp.int32)
    return (jaxpr_flops(jax.make_jaxpr(step)(params, rest, X, y).jaxpr),
            jaxpr_flops(jax.make_jaxpr(forward)(params, rest, X).jaxpr))


def _cut(arrays, args):
    train_x, train_y, val_x, val_y = arrays
    return (train_x[:args.num_train], np.asarray(train_y[:args.num_train]),
            val_x[:args.num_val], np.asarray(val_y[:args.num_val]))
