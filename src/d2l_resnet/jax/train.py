"""Training for JAX: ``Trainer(max_epochs).fit(model, data)``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.typing import DTypeLike

from ..data import Batches
from ..training import BaseTrainer, TrainStep, check_mixed_precision
from .data import FashionMNIST
from .utils import try_gpu


class Trainer(BaseTrainer):
    """Minibatch SGD at the model's learning rate (``model.lr``), with a live plot.

    Speed lives here, not in the model: the training and evaluation steps are compiled
    with ``nnx.jit`` (one XLA program per step, batch-norm statistics updated inside
    it), batches are resized on the device, convolutions compute in bfloat16 where that is
    faster (weights, batch-norm statistics and logits stay float32), and
    losses stay on the device until an epoch ends, so JAX dispatches batch after batch
    without waiting.

    Args:
        max_epochs: Passes over the training data.
        device: Where to train (a ``jax.Device``); by default the first GPU, else the CPU.
        mixed_precision: ``"auto"`` (bf16 on GPUs of compute capability 8.0 or
            higher; not on CPUs, where XLA computes bf16 slower than fp32), ``"bf16"``
            or ``"off"``.
        plot: Draw the live plot (in a notebook).
        progress: Show a tqdm progress bar.
        validation_freq: Validate after every this many epochs and after the last
            one (Keras's ``validation_freq``); the history holds NaN for the epochs
            in between. 1, the default, validates after every epoch.
    """

    def __init__(
        self,
        max_epochs: int,
        device: jax.Device | None = None,
        mixed_precision: str = "auto",
        plot: bool = True,
        progress: bool = True,
        validation_freq: int = 1,
    ) -> None:
        super().__init__(max_epochs, plot, progress, validation_freq)
        self.device = device if device is not None else try_gpu()
        check_mixed_precision(mixed_precision)
        bf16 = mixed_precision == "bf16" or (
            mixed_precision == "auto" and _has_fast_bf16(self.device)
        )
        self.dtype: DTypeLike | None = jnp.bfloat16 if bf16 else None

    @contextlib.contextmanager
    def _session(
        self, model: nnx.Module, data: FashionMNIST, lr: float
    ) -> Iterator[TrainStep]:
        nnx.update(model, jax.device_put(nnx.state(model), self.device))
        optimizer = nnx.Optimizer(model, optax.sgd(lr), wrt=nnx.Param)
        # The optimizer's step counter is created uncommitted; the first step
        # would return it committed and the second would compile the step again
        # (6 s for a CIFAR ResNet-56 on one core). Committed from the start:
        # one compilation.
        nnx.update(
            optimizer, jax.device_put(nnx.state(optimizer), self.device)
        )
        with compute_dtype(model, self.dtype):
            # nnx.jit walks the model's object graph in Python on every call:
            # 12% of a CIFAR ResNet-56 step on one core (247 vs 218 ms, batch
            # 16). Flax's cached_partial walks it once; the model and optimizer
            # stay up to date. It keeps the graph's structure as it is now,
            # training mode included.
            model.train()
            yield nnx.cached_partial(_train_step, model, optimizer)

    def _train_batches(self, data: FashionMNIST) -> Batches:
        return data.train_dataloader(self.device)

    def _sums_to_host(self, sums: list[jax.Array]) -> np.ndarray:
        return np.asarray(jnp.stack(sums))

    def _device_name(self) -> str:
        device = self.device
        return (
            device.device_kind
            if device.platform == "gpu"
            else device.platform.upper()
        )

    def _train_mode(self, model: nnx.Module) -> None:
        # the modules' flags, after evaluate; train_step keeps its own
        model.train()

    def evaluate(
        self, model: nnx.Module, data: FashionMNIST
    ) -> tuple[float, float]:
        """Mean cross-entropy loss and accuracy on the validation set."""
        model.eval()
        loss_sum, correct, count = jnp.zeros(()), jnp.zeros((), jnp.int32), 0
        with compute_dtype(model, self.dtype):
            # in eval mode; see fit
            eval_step = nnx.cached_partial(_eval_step, model)
            for X, y in data.val_dataloader(self.device):
                batch_loss, batch_correct = eval_step(X, y)
                loss_sum, correct = (
                    loss_sum + batch_loss,
                    correct + batch_correct,
                )
                count += len(y)
        return float(loss_sum) / count, int(correct) / count


@nnx.jit
def _train_step(
    model: nnx.Module,
    optimizer: nnx.Optimizer[nnx.Module],
    X: jax.Array,
    y: jax.Array,
) -> jax.Array:
    def loss_fn(model: nnx.Module) -> tuple[jax.Array, jax.Array]:
        loss_sum = optax.softmax_cross_entropy_with_integer_labels(
            model(X), y
        ).sum()
        return loss_sum / y.shape[0], loss_sum

    (_, loss_sum), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
    optimizer.update(model, grads)
    return loss_sum


@nnx.jit
def _eval_step(
    model: nnx.Module, X: jax.Array, y: jax.Array
) -> tuple[jax.Array, jax.Array]:
    logits = model(X).astype(jnp.float32)
    loss_sum = optax.softmax_cross_entropy_with_integer_labels(logits, y).sum()
    return loss_sum, (logits.argmax(axis=1) == y).sum()


@contextlib.contextmanager
def compute_dtype(
    model: nnx.Module, dtype: DTypeLike | None
) -> Iterator[None]:
    """Runs every convolution of ``model`` in ``dtype`` (None: unchanged) for a while.

    ``nnx.Conv`` casts its input and kernel to its ``dtype``; the float32 kernels stay
    what the optimizer updates. Batch norm computes its statistics in float32 and the
    classifier keeps float32, so the logits and the loss are float32.
    """
    convs = [m for _, m in nnx.iter_modules(model) if isinstance(m, nnx.Conv)]
    saved = [m.dtype for m in convs]
    if dtype is not None:
        for m in convs:
            m.dtype = dtype
    try:
        yield
    finally:
        for m, d in zip(convs, saved):
            m.dtype = d


def _has_fast_bf16(device: jax.Device) -> bool:
    """Whether bf16 pays off here: GPUs of compute capability 8.0 or higher (Ampere).

    Not on CPUs, even with AVX512-BF16 or AMX, where PyTorch and TensorFlow gain:
    XLA's CPU convolutions in bf16 were slower than in fp32 on such a CPU (ResNet-18
    training step, batch 128: 128 vs 150 images/s at 48x48, 14 vs 28 at 96x96).
    """
    if device.platform == "gpu":
        return float(getattr(device, "compute_capability", "0")) >= 8.0
    return False
