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
    """Accuracy with each block deleted (markers) and with none (dotted line), one
    panel per network, its width proportional to the number of blocks.

    Args:
        results: Network name -> what ``lesion_accuracies`` returned for it. Blocks
            that cannot be deleted (NaN, the downsampling blocks) are shaded grey.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    sizes = [len(result["deleted"]) for result in results.values()]
    fig = Figure(figsize=(6.4, 3.4), layout="constrained")
    axes = fig.subplots(
        1, len(results), sharey=True, width_ratios=sizes, squeeze=False
    )[0]
    for i, (ax, (label, result)) in enumerate(zip(axes, results.items())):
        deleted = np.asarray(result["deleted"], dtype=float)
        blocks = np.arange(1, len(deleted) + 1)
        for k in result["skipped"]:
            ax.axvspan(k + 0.5, k + 1.5, color="0.88", linewidth=0)
        color = f"C{i}"
        ax.plot(
            blocks,
            deleted,
            marker="o",
            markersize=3.5,
            color=color,
            **_style(label),
        )
        ax.axhline(result["intact"], color=color, linewidth=1.2, linestyle=":")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(label, fontsize="medium")
        ax.set_xlim(0.5, len(deleted) + 0.5)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(i18n.t("val_acc"))
    fig.supxlabel(i18n.t("deleted_block"), fontsize="medium")
    fig.legend(
        handles=[
            Line2D([], [], color="0.3", linewidth=1.2, linestyle=":"),
            Patch(color="0.88"),
        ],
        labels=[i18n.t("no_block_deleted"), i18n.t("downsampling_block")],
        loc="outside upper center",
        ncols=2,
        fontsize="small",
        frameon=False,
    )
    return Plot(fig)
