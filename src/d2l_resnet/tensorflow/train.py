"""Training for TensorFlow: ``Trainer(max_epochs).fit(model, data)``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import tensorflow as tf

from ..training import BaseTrainer, TrainStep, check_mixed_precision
from .data import FashionMNIST
from .utils import try_gpu

# The compiled evaluation step: (X, y) -> (summed loss, number of correct
# predictions).
_EvalStep = Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]


class Trainer(BaseTrainer):
    """Minibatch SGD at the model's learning rate (``model.lr``), with a live plot.

    Speed lives here, not in the model: the training and evaluation steps are
    compiled graphs (with XLA on a GPU), a model that is not built yet computes in
    bfloat16 where the hardware supports it (weights stay float32, the logits are
    float32), the input pipeline prefetches, and losses stay on the device until an
    epoch ends.

    Args:
        max_epochs: Passes over the training data.
        device: Where to train; by default the first GPU, else the CPU.
        mixed_precision: ``"auto"`` (bf16 on CPUs with AVX512-BF16 or AMX and on
            GPUs of compute capability 8.0 or higher), ``"bf16"`` or ``"off"``. Takes
            effect only on a model whose layers are not built yet.
        jit_compile: Compile the steps with XLA; by default only on a GPU (on a
            CPU, XLA's convolutions were 10x slower than TensorFlow's own here).
        plot: Draw the live plot (in a notebook).
        progress: Show a tqdm progress bar.
        validation_freq: Validate after every this many epochs and after the last
            one (Keras's ``validation_freq``); the history holds NaN for the epochs
            in between. 1, the default, validates after every epoch.
    """

    def __init__(
        self,
        max_epochs: int,
        device: str | None = None,
        mixed_precision: str = "auto",
        jit_compile: bool | None = None,
        plot: bool = True,
        progress: bool = True,
        validation_freq: int = 1,
    ) -> None:
        super().__init__(max_epochs, plot, progress, validation_freq)
        self.device = device or try_gpu()
        check_mixed_precision(mixed_precision)
        bf16 = mixed_precision == "bf16" or (
            mixed_precision == "auto" and _has_fast_bf16(self.device)
        )
        # the compute dtype, as in the others
        self.dtype = tf.bfloat16 if bf16 else None
        self.jit_compile = (
            "GPU" in self.device if jit_compile is None else jit_compile
        )
        # (model, its compiled evaluation step), see evaluate
        self._eval_step: tuple[tf.keras.Model, _EvalStep] | None = None

    @contextlib.contextmanager
    def _session(
        self, model: tf.keras.Model, data: FashionMNIST, lr: float
    ) -> Iterator[TrainStep]:
        if self.dtype is not None and not model.built:
            _compute_in_bf16(model)
        optimizer = tf.keras.optimizers.SGD(learning_rate=lr)
        with tf.device(self.device):
            _build_eagerly(model, optimizer, data)
        loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="sum"
        )

        @tf.function(jit_compile=self.jit_compile)
        def train_step(X: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
            with tf.GradientTape() as tape:
                loss_sum = loss_fn(y, model(X, training=True))
                loss = loss_sum / tf.cast(tf.shape(y)[0], tf.float32)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss_sum  # stays a tensor: no sync per batch

        with tf.device(self.device):
            yield train_step

    def _train_batches(self, data: FashionMNIST) -> tf.data.Dataset:
        return data.train_dataloader()

    def _sums_to_host(self, sums: list[tf.Tensor]) -> np.ndarray:
        return tf.stack(sums).numpy()

    def _device_name(self) -> str:
        return self.device.split(":")[-2].strip("/")

    def evaluate(
        self, model: tf.keras.Model, data: FashionMNIST
    ) -> tuple[float, float]:
        """Mean cross-entropy loss and accuracy on the validation set."""
        # One compiled step per model, kept for the next call: tracing it again
        # on every validation would cost more than the validation itself.
        cached = self._eval_step
        if cached is None or cached[0] is not model:
            cached = self._eval_step = (
                model,
                _eval_step(model, self.jit_compile),
            )
        eval_step = cached[1]
        loss_sum, correct, count = tf.zeros(()), tf.zeros(()), 0
        with tf.device(self.device):
            for X, y in data.val_dataloader():
                batch_loss, batch_correct = eval_step(X, y)
                loss_sum += batch_loss
                correct += batch_correct
                count += int(y.shape[0])
        return float(loss_sum) / count, float(correct) / count


def _eval_step(model: tf.keras.Model, jit_compile: bool) -> _EvalStep:
    """The compiled evaluation step: summed loss and number of correct predictions."""
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="sum"
    )

    @tf.function(jit_compile=jit_compile)
    def eval_step(X: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        logits = model(X, training=False)
        correct = tf.reduce_sum(
            tf.cast(
                tf.argmax(logits, axis=1, output_type=y.dtype) == y, tf.float32
            )
        )
        return loss_fn(y, logits), correct

    return eval_step


def _build_eagerly(
    model: tf.keras.Model,
    optimizer: tf.keras.optimizers.Optimizer,
    data: FashionMNIST,
) -> None:
    """Creates the model's and the optimizer's variables before the steps are traced.

    Variables first created inside a ``tf.function`` are lifted out of the graph one
    by one, which made tracing the training step of a 56-layer network take 6.6-7.0 s
    instead of 1.7-1.9 s (plus 0.5-0.6 s for this eager build), on 2 cores. One eager
    forward pass on a single image, in inference mode, builds every layer.
    """
    if not model.built:
        shape = data.train_dataloader().element_spec[0].shape
        model(tf.zeros((1, *shape[1:])), training=False)
    if not optimizer.built:
        optimizer.build(model.trainable_variables)


def _compute_in_bf16(model: tf.keras.Model) -> None:
    """Keras mixed precision on a model not built yet: bf16 compute, float32 weights.

    The last layer keeps float32 so that the logits and the loss are computed in
    full precision.
    """
    layers = list(model._flatten_layers(include_self=False, recursive=True))
    for layer in layers:
        layer.dtype_policy = tf.keras.DTypePolicy("mixed_bfloat16")
    last = [
        layer for layer in layers if isinstance(layer, tf.keras.layers.Dense)
    ]
    if last:
        last[-1].dtype_policy = tf.keras.DTypePolicy("float32")


def _has_fast_bf16(device: str) -> bool:
    """Whether bf16 math is native here: Ampere or newer GPUs, AVX512-BF16/AMX CPUs."""
    if "GPU" in device:
        details = tf.config.experimental.get_device_details(
            tf.config.list_physical_devices("GPU")[0]
        )
        return details.get("compute_capability", (0, 0)) >= (8, 0)
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags
