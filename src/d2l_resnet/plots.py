"""Plots of the experiments: training-loss curves, per-layer gradient norms, lesions.

Each function returns a ``Plot``, which a notebook shows as a PNG image; axis labels
follow ``d2l_resnet.set_language``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import i18n

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class Plot:
    """A matplotlib figure that a notebook displays as a PNG image."""

    def __init__(self, figure: Figure) -> None:
        self.figure = figure

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=110)
        return buffer.getvalue()


def _style(label: str) -> dict[str, Any]:
    """Plain networks dashed, networks with shortcuts solid."""
    return {"linestyle": "--" if label.lower().startswith("plain") else "-"}


def smooth(values: Sequence[float] | np.ndarray, window: int) -> np.ndarray:
    """Moving average of ``values`` over ``window`` points (shorter at the start)."""
    values = np.asarray(values, dtype=float)
    if window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (sums[1:] - sums[np.arange(1, len(values) + 1) - counts]) / counts


def loss_curves(histories: dict, window: int = 16) -> Plot:
    """Training loss of every batch, smoothed over ``window`` batches, per network.

    Args:
        histories: Network name -> the ``History`` that ``Trainer.fit`` returned.
        window: Width of the moving average, in batches.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for label, history in histories.items():
        losses = history.batch_loss
        batches_per_epoch = len(losses) / len(history.train_loss)
        x = np.arange(1, len(losses) + 1) / batches_per_epoch
        ax.plot(x, smooth(losses, window), label=label, **_style(label))
    ax.set_xlabel(i18n.t("epoch"))
    ax.set_ylabel(i18n.t("train_loss"))
    ax.grid(alpha=0.3)
    ax.legend()
    return Plot(fig)


def gradient_norm_plot(norms: dict[str, list[float]]) -> Plot:
    """Gradient norm of each convolution, from the input to the output, log scale."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for label, values in norms.items():
        ax.semilogy(
            np.arange(1, len(values) + 1), values, label=label, **_style(label)
        )
    ax.set_xlabel(i18n.t("conv_layer"))
    ax.set_ylabel(i18n.t("grad_norm"))
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return Plot(fig)


def lesion_plot(results: dict[str, dict]) -> Plot:
    """Accuracy with each block deleted (markers) and with none (horizontal line).

    Args:
        results: Network name -> what ``lesion_accuracies`` returned for it. Blocks
            that cannot be deleted (NaN) leave a gap.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for label, result in results.items():
        deleted = np.asarray(result["deleted"], dtype=float)
        blocks = np.arange(1, len(deleted) + 1)
        points = ax.plot(
            blocks,
            deleted,
            marker="o",
            markersize=4,
            label=label,
            **_style(label),
        )[0]
        ax.axhline(
            result["intact"],
            color=points.get_color(),
            linewidth=1.2,
            alpha=0.8,
            linestyle=":",
            label=i18n.t("intact_model", name=label),
        )
    ax.set_xlabel(i18n.t("deleted_block"))
    ax.set_ylabel(i18n.t("val_acc"))
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return Plot(fig)
