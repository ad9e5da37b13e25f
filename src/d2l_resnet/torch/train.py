"""Training for PyTorch: ``Trainer(max_epochs).fit(model, data)``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..data import Batches
from ..training import BaseTrainer, TrainStep, check_mixed_precision
from .data import FashionMNIST
from .utils import try_gpu


class Trainer(BaseTrainer):
    """Minibatch SGD at the model's learning rate (``model.lr``), with a live plot.

    Speed lives here, not in the model: batches are resized on the device, the model
    runs in channels-last memory layout, in bfloat16/float16 autocast where the
    hardware supports it, losses stay on the device until an epoch ends, and
    evaluation runs without gradients.

    Args:
        max_epochs: Passes over the training data.
        device: Where to train; by default the first GPU, else Apple MPS, else CPU.
        mixed_precision: ``"auto"`` (bf16 on CPUs and GPUs that support it, else
            fp16 on CUDA, else fp32), ``"bf16"``, ``"fp16"`` or ``"off"``.
        channels_last: Use the NHWC memory layout, faster for convolutions on
            CPUs and tensor-core GPUs.
        plot: Draw the live plot (in a notebook).
        progress: Show a tqdm progress bar.
        validation_freq: Validate after every this many epochs and after the last
            one (Keras's ``validation_freq``); the history holds NaN for the epochs
            in between. 1, the default, validates after every epoch.
    """

    def __init__(
        self,
        max_epochs: int,
        device: str | torch.device | None = None,
        mixed_precision: str = "auto",
        channels_last: bool = True,
        plot: bool = True,
        progress: bool = True,
        validation_freq: int = 1,
    ) -> None:
        super().__init__(max_epochs, plot, progress, validation_freq)
        self.device = torch.device(device) if device is not None else try_gpu()
        self.dtype = _autocast_dtype(mixed_precision, self.device)
        self.memory_format = (
            torch.channels_last if channels_last else torch.contiguous_format
        )

    @contextlib.contextmanager
    def _session(
        self, model: nn.Module, data: FashionMNIST, lr: float
    ) -> Iterator[TrainStep]:
        first_X, _ = next(iter(data.train_dataloader()))
        model.to(self.device)
        # build the lazy layers before the optimizer sees them
        with torch.no_grad():
            model.eval()
            model(first_X[:2].to(self.device))
        # Module.to takes memory_format at run time; torch's stubs leave it
        # out.
        model.to(memory_format=self.memory_format)  # type: ignore[call-overload]
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        scaler = torch.amp.GradScaler(
            self.device.type, enabled=self.dtype == torch.float16
        )

        def train_step(X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            X = X.contiguous(memory_format=self.memory_format)
            with self._autocast():
                loss_sum = F.cross_entropy(model(X), y, reduction="sum")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss_sum / len(y)).backward()
            scaler.step(optimizer)
            scaler.update()
            return loss_sum.detach()  # no .item(): no sync per batch

        yield train_step

    def _train_batches(self, data: FashionMNIST) -> Batches:
        return data.train_dataloader(self.device)

    def _sums_to_host(self, sums: list[torch.Tensor]) -> np.ndarray:
        return torch.stack(sums).double().cpu().numpy()

    def _device_name(self) -> str:
        if self.device.type == "cuda":
            return torch.cuda.get_device_name(self.device)
        return self.device.type.upper()

    def _train_mode(self, model: nn.Module) -> None:
        model.train()

    @torch.inference_mode()
    def evaluate(
        self, model: nn.Module, data: FashionMNIST
    ) -> tuple[float, float]:
        """Mean cross-entropy loss and accuracy on the validation set."""
        model.eval()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        count = 0
        for X, y in data.val_dataloader(self.device):
            with self._autocast():
                logits = model(X.contiguous(memory_format=self.memory_format))
            loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
            correct += (logits.argmax(dim=1) == y).sum()
            count += len(y)
        return loss_sum.item() / count, correct.item() / count

    def _autocast(self) -> contextlib.AbstractContextManager[None]:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)


def _autocast_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    check_mixed_precision(mode, ("auto", "bf16", "fp16", "off"))
    if mode == "off":
        return None
    if mode == "bf16":
        return torch.bfloat16
    if mode == "fp16":
        return torch.float16
    if device.type == "cuda":
        return (
            torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        )
    if device.type == "cpu" and _cpu_has_fast_bf16():
        return torch.bfloat16
    return None


def _cpu_has_fast_bf16() -> bool:
    """Whether oneDNN has native bf16 kernels here (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
