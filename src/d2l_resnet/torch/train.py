"""Training for PyTorch: ``Trainer(max_epochs).fit(model, data)``."""

from __future__ import annotations

import contextlib
import math
import time

import torch
from torch.nn import functional as F

from .. import i18n
from ..runtime import check_positive_int
from ..training import History, ProgressBoard, epoch_postfix, progress_bar, validates
from .utils import try_gpu


class Trainer:
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

    def __init__(self, max_epochs, device=None, mixed_precision="auto",
                 channels_last=True, plot=True, progress=True, validation_freq=1):
        self.max_epochs = check_positive_int("max_epochs", max_epochs)
        self.validation_freq = check_positive_int("validation_freq", validation_freq)
        self.device = torch.device(device) if device is not None else try_gpu()
        self.dtype = _autocast_dtype(mixed_precision, self.device)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.plot, self.progress = plot, progress

    def fit(self, model, data) -> History:
        """Trains ``model`` on ``data`` and returns the per-epoch history."""
        lr = getattr(model, "lr", None)
        if not isinstance(lr, (int, float)) or lr <= 0:
            raise ValueError(f"the model needs a positive learning rate attribute 'lr', got {lr!r}")
        first_X, _ = next(iter(data.train_dataloader()))
        model.to(self.device)
        with torch.no_grad():  # build the lazy layers before the optimizer sees them
            model.eval()
            model(first_X[:2].to(self.device))
        model.to(memory_format=self.memory_format)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        scaler = torch.amp.GradScaler(self.device.type, enabled=self.dtype == torch.float16)

        history = History(device=_device_name(self.device))
        num_batches = len(data.train_dataloader())
        bar = progress_bar(self.max_epochs * num_batches, enabled=self.progress)
        board = ProgressBoard(self.max_epochs, live=self.plot) if self.plot else None
        start = time.perf_counter()
        for epoch in range(self.max_epochs):
            bar.set_description(f"{i18n.t('epoch')} {epoch + 1}/{self.max_epochs}")
            epoch_start = time.perf_counter()
            model.train()
            losses, sizes = [], []
            for X, y in data.train_dataloader(self.device):
                X = X.contiguous(memory_format=self.memory_format)
                with self._autocast():
                    loss = F.cross_entropy(model(X), y)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                losses.append(loss.detach())  # no .item(): no sync per batch
                sizes.append(len(y))
                bar.update()
            batch_loss = torch.stack(losses).float().cpu()
            count = sum(sizes)
            train_loss = float((batch_loss * torch.tensor(sizes)).sum()) / count
            val_loss = val_acc = math.nan
            if validates(epoch + 1, self.max_epochs, self.validation_freq):
                val_loss, val_acc = self.evaluate(model, data)
            history.record(train_loss, val_loss, val_acc, count, batch_loss.tolist(),
                           seconds=time.perf_counter() - epoch_start)
            bar.set_postfix(epoch_postfix(history))
            if board is not None:
                board.draw_epoch(epoch + 1, history)
        history.seconds = time.perf_counter() - start
        bar.close()
        self.board = board
        return history

    @torch.inference_mode()
    def evaluate(self, model, data) -> tuple[float, float]:
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

    def _autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)


def _autocast_dtype(mode, device):
    if mode not in ("auto", "bf16", "fp16", "off"):
        raise ValueError(f"mixed_precision must be 'auto', 'bf16', 'fp16' or 'off', got {mode!r}")
    if mode == "off":
        return None
    if mode == "bf16":
        return torch.bfloat16
    if mode == "fp16":
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and _cpu_has_fast_bf16():
        return torch.bfloat16
    return None


def _cpu_has_fast_bf16() -> bool:
    """Whether oneDNN has native bf16 kernels here (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return device.type.upper()
