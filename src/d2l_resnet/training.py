"""Framework-neutral parts of training: the history, the progress bar and the live plot."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

from matplotlib.ticker import MaxNLocator
from tqdm.std import tqdm

from . import i18n


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

    def record(self, train_loss: float, val_loss: float, val_acc: float, images: int,
               batch_loss=(), seconds: float | None = None):
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


def epoch_postfix(history: History) -> dict:
    """The progress bar's summary of the last epoch: its loss, and its validation
    accuracy if it was validated."""
    postfix = {"loss": f"{history.train_loss[-1]:.3f}"}
    if not math.isnan(history.val_acc[-1]):
        postfix["val_acc"] = f"{history.val_acc[-1]:.3f}"
    return postfix


def in_notebook() -> bool:
    """Whether we run inside a Jupyter kernel (where outputs can be redrawn in place)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class _DisplayFile:
    """A file-like sink for tqdm that redraws one notebook output in place.

    A notebook then stores only the bar's final state, not every carriage return.
    """

    def __init__(self):
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

    def __init__(self, max_epochs: int, live: bool = True):
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=(5.5, 3.5), layout="constrained")
        self.ax = self.fig.add_subplot()
        self.max_epochs = max_epochs
        self.points: dict[str, tuple[list[float], list[float]]] = {}
        self._handle = None
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
            self.ax.plot(xs, ys, styles[key], marker="o" if len(xs) < 3 else None,
                         label=i18n.t(key))
        self.ax.set_xlabel(i18n.t("epoch"))
        self.ax.set_xlim(0.8, self.max_epochs + 0.2)
        self.ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        self.ax.grid(alpha=0.3)
        self.ax.legend(loc="upper right")
        if self._handle is not None:
            self._handle.update(self._png(), raw=True)

    def _png(self) -> dict:
        """The figure as a PNG display bundle, whatever matplotlib backend is active."""
        import base64
        import io

        buffer = io.BytesIO()
        self.fig.savefig(buffer, format="png", dpi=100)
        return {"image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                "text/plain": "<training curves>"}
