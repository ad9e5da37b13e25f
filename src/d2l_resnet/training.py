"""Framework-neutral parts of training: the epoch loop, the history, the progress bar
and the live plot. Each framework's ``Trainer`` adds only its training step."""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from matplotlib.ticker import MaxNLocator
from tqdm.std import tqdm

from . import i18n

# What the framework-neutral loop passes through without looking inside: a
# framework's model (nn.Module, keras.Model, nnx.Module), its data module and a
# batch's arrays.
Model = Any
Data = Any
Array = Any
# One training step: updates the model on the batch (X, y) and returns the
# batch's summed loss, left on the device.
TrainStep = Callable[[Array, Array], Array]


class BatchLoader(Protocol):
    """What ``fit`` needs of a data loader: its number of batches, and the batches."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[tuple[Array, Array]]: ...


@dataclass
class History:
    """What ``Trainer.fit`` measured: one value per epoch, and the loss of every batch."""

    train_loss: list[float] = field(default_factory=list)
    batch_loss: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: float = 0.0
    train_images: int = 0
    device: str = ""

    @property
    def images_per_second(self) -> float:
        """Training images processed per second of wall time (evaluation included)."""
        return self.train_images / self.seconds if self.seconds else 0.0

    def record(
        self,
        train_loss: float,
        val_loss: float,
        val_acc: float,
        images: int,
        batch_loss: Iterable[float] = (),
        seconds: float | None = None,
    ) -> None:
        """Appends one epoch's results (``batch_loss``: mean loss of each batch;
        ``seconds``: wall time of the epoch, training and evaluation; ``val_loss`` and
        ``val_acc`` are NaN after an epoch without validation)."""
        self.train_loss.append(train_loss)
        if seconds is not None:
            self.epoch_seconds.append(seconds)
        self.batch_loss.extend(float(v) for v in batch_loss)
        self.val_loss.append(val_loss)
        self.val_acc.append(val_acc)
        self.train_images += images

    def summary(self) -> str:
        """One line, in the current language."""
        return i18n.t(
            "fit_done",
            epochs=len(self.train_loss),
            seconds=self.seconds,
            ips=self.images_per_second,
            device=self.device,
            acc=self.val_acc[-1] if self.val_acc else float("nan"),
        )


def validates(epoch: int, max_epochs: int, validation_freq: int) -> bool:
    """Whether ``Trainer.fit`` validates after ``epoch`` (counted from 1): after every
    ``validation_freq``-th epoch, as Keras's ``fit(validation_freq=...)`` does, and
    always after the last one, whose accuracy ``History.summary`` reports."""
    return epoch % validation_freq == 0 or epoch == max_epochs


def epoch_postfix(history: History) -> dict[str, str]:
    """The progress bar's summary of the last epoch: its loss, and its validation
    accuracy if it was validated."""
    postfix = {"loss": f"{history.train_loss[-1]:.3f}"}
    if not math.isnan(history.val_acc[-1]):
        postfix["val_acc"] = f"{history.val_acc[-1]:.3f}"
    return postfix


class BaseTrainer:
    """The loop that the PyTorch, TensorFlow and JAX ``Trainer`` share.

    ``fit`` checks the model's learning rate, then runs ``max_epochs`` passes over
    ``data.train_dataloader``, validating as ``validation_freq`` says, and records
    each epoch in a ``History``, the progress bar and the live plot. A framework's
    ``Trainer`` supplies what differs:

    - ``_session(model, data, lr)``: a context manager that prepares the model and
      the optimizer and yields ``train_step(X, y)``, which updates the model on one
      batch and returns the batch's *summed* loss, left on the device;
    - ``_train_batches(data)`` and ``_sums_to_host(sums)`` (the summed losses of an
      epoch as a NumPy array: one synchronization per epoch, not per batch);
    - ``_device_name()``, ``_train_mode(model)`` and ``evaluate(model, data)``.
    """

    def __init__(
        self,
        max_epochs: int,
        plot: bool = True,
        progress: bool = True,
        validation_freq: int = 1,
    ) -> None:
        from .runtime import check_positive_int

        self.max_epochs = check_positive_int("max_epochs", max_epochs)
        self.validation_freq = check_positive_int(
            "validation_freq", validation_freq
        )
        self.plot, self.progress = plot, progress

    def fit(self, model: Model, data: Data) -> History:
        """Trains ``model`` on ``data`` and returns the per-epoch history."""
        lr = getattr(model, "lr", None)
        if (
            isinstance(lr, bool)
            or not isinstance(lr, (int, float))
            or not lr > 0
        ):
            raise ValueError(
                f"the model needs a positive learning rate attribute 'lr', got {lr!r}"
            )
        history = History(device=self._device_name())
        with self._session(model, data, lr) as train_step:
            num_batches = len(self._train_batches(data))
            bar = progress_bar(
                self.max_epochs * num_batches, enabled=self.progress
            )
            board = (
                ProgressBoard(self.max_epochs, live=self.plot)
                if self.plot
                else None
            )
            start = time.perf_counter()
            for epoch in range(1, self.max_epochs + 1):
                bar.set_description(
                    f"{i18n.t('epoch')} {epoch}/{self.max_epochs}"
                )
                epoch_start = time.perf_counter()
                self._train_mode(model)
                sums: list[Array] = []
                sizes: list[int] = []
                for X, y in self._train_batches(data):
                    sums.append(train_step(X, y))
                    sizes.append(int(y.shape[0]))
                    bar.update()
                losses = np.asarray(self._sums_to_host(sums), dtype=np.float64)
                count = sum(sizes)
                val_loss = val_acc = math.nan
                if validates(epoch, self.max_epochs, self.validation_freq):
                    val_loss, val_acc = self.evaluate(model, data)
                history.record(
                    float(losses.sum()) / count,
                    val_loss,
                    val_acc,
                    count,
                    losses / np.asarray(sizes),
                    seconds=time.perf_counter() - epoch_start,
                )
                bar.set_postfix(epoch_postfix(history))
                if board is not None:
                    board.draw_epoch(epoch, history)
            history.seconds = time.perf_counter() - start
            bar.close()
        self.board = board
        return history

    def evaluate(self, model: Model, data: Data) -> tuple[float, float]:
        """Mean cross-entropy loss and accuracy on the validation set."""
        raise NotImplementedError

    def _session(
        self, model: Model, data: Data, lr: float
    ) -> contextlib.AbstractContextManager[TrainStep]:
        raise NotImplementedError

    def _train_batches(self, data: Data) -> BatchLoader:
        raise NotImplementedError

    def _sums_to_host(self, sums: list[Array]) -> np.ndarray:
        raise NotImplementedError

    def _device_name(self) -> str:
        raise NotImplementedError

    def _train_mode(self, model: Model) -> None:
        """Puts ``model`` in training mode before each epoch (after ``evaluate``)."""


def check_mixed_precision(
    mode: str, choices: tuple[str, ...] = ("auto", "bf16", "off")
) -> str:
    """Raises a clear ``ValueError`` unless ``mode`` is one of ``choices``."""
    if mode not in choices:
        names = (
            ", ".join(repr(c) for c in choices[:-1]) + f" or {choices[-1]!r}"
        )
        raise ValueError(f"mixed_precision must be {names}, got {mode!r}")
    return mode


def in_notebook() -> bool:
    """Whether we run inside a Jupyter kernel (where outputs can be redrawn in place)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class _DisplayFile:
    """A file-like sink for tqdm that redraws one notebook output in place.

    A notebook then stores only the bar's final state, not every carriage return.
    """

    def __init__(self) -> None:
        from IPython.display import display

        self._handle = display({"text/plain": ""}, raw=True, display_id=True)

    def write(self, text: str) -> None:
        line = text.replace("\r", "").strip()
        if line:
            self._handle.update({"text/plain": line}, raw=True)

    def flush(self) -> None:
        pass


def progress_bar(total: int, enabled: bool = True) -> tqdm:
    """A tqdm bar over all training batches, redrawn in place in a notebook."""
    file = _DisplayFile() if enabled and in_notebook() else sys.stderr
    return tqdm(
        total=total,
        unit="batch",
        file=file,
        disable=not enabled,
        mininterval=1.0,
        dynamic_ncols=False,
        ncols=80,
    )


class ProgressBoard:
    """Live plot of training loss, validation loss and validation accuracy.

    In a notebook the figure is redrawn in place after every update and stays as one
    final figure in the saved output. Elsewhere nothing is drawn until ``figure`` is
    asked for.
    """

    def __init__(self, max_epochs: int, live: bool = True) -> None:
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=(5.5, 3.5), layout="constrained")
        self.ax = self.fig.add_subplot()
        self.max_epochs = max_epochs
        self.points: dict[str, tuple[list[float], list[float]]] = {}
        self._handle: Any = None
        if live and in_notebook():
            from IPython.display import display

            self._handle = display(self._png(), raw=True, display_id=True)

    def draw(self, key: str, x: float, y: float) -> None:
        """Adds the point (x, y) to the curve ``key`` and redraws the figure."""
        xs, ys = self.points.setdefault(key, ([], []))
        xs.append(x)
        ys.append(y)
        self._render()

    def draw_epoch(self, epoch: int, history: History) -> None:
        """Adds the last epoch of ``history`` to the three curves (to the training loss
        only, after an epoch without validation)."""
        for key in ("train_loss", "val_loss", "val_acc"):
            value = getattr(history, key)[-1]
            if not math.isnan(value):
                self.draw(key, epoch, value)

    def _render(self) -> None:
        styles = {"train_loss": "-", "val_loss": "--", "val_acc": "-."}
        self.ax.clear()
        for key, (xs, ys) in self.points.items():
            self.ax.plot(
                xs,
                ys,
                styles[key],
                marker="o" if len(xs) < 3 else None,
                label=i18n.t(key),
            )
        self.ax.set_xlabel(i18n.t("epoch"))
        self.ax.set_xlim(0.8, self.max_epochs + 0.2)
        self.ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        self.ax.grid(alpha=0.3)
        self.ax.legend(loc="upper right")
        if self._handle is not None:
            self._handle.update(self._png(), raw=True)

    def _png(self) -> dict[str, str]:
        """The figure as a PNG display bundle, whatever matplotlib backend is active."""
        import base64
        import io

        buffer = io.BytesIO()
        self.fig.savefig(buffer, format="png", dpi=100)
        return {
            "image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
            "text/plain": "<training curves>",
        }
