"""The yardsticks of the benchmarks: GEMM rates, FLOPs per step, and the machine.

* ``gemm_rate``: GFLOP/s of a square ``torch.matmul`` (2048x2048 by default) in
  bf16 or fp32, the best of a few short trials: what the cores can do on the
  friendliest possible workload, measured in the benchmark's own process.
* ``torch_step_flops`` / ``tf_step_flops``: FLOPs of one training step (forward and
  backward) and of one evaluation step, counted by each framework's own means:
  ``torch.utils.flop_counter`` for PyTorch, the traced graph for TensorFlow (the
  library's ``d2l_resnet.tensorflow.utils.graph_flops``, which ``block_cost`` uses too). Both
  count a multiply-add as 2 FLOPs and count convolutions and matrix products only,
  so the two counts of the same network agree.
* ``machine``: CPU model, cores and library versions, for the results files.
"""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata


# ----------------------------------------------------------------------------- GEMM
def gemm_rate(dtype: str = "bf16", n: int = 2048, trials: int = 3,
              seconds: float = 0.4) -> float:
    """GFLOP/s of an ``n x n`` by ``n x n`` ``torch.matmul``: the best of ``trials``."""
    import torch

    dt = {"bf16": torch.bfloat16, "fp32": torch.float32}[dtype]
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(dt)
    b = torch.randn(n, n, generator=g).to(dt)
    for _ in range(2):  # warm up: oneDNN picks and JITs its kernel
        torch.matmul(a, b)
    best = 0.0
    for _ in range(trials):
        reps, start = 0, time.perf_counter()
        while True:
            torch.matmul(a, b)
            reps += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds and reps >= 2:
                break
        best = max(best, 2 * n ** 3 * reps / elapsed / 1e9)
    return best


def gemm_rates(**kwargs) -> dict[str, float]:
    """bf16 and fp32 GEMM rates (GFLOP/s), one after the other."""
    return {"bf16": gemm_rate("bf16", **kwargs), "fp32": gemm_rate("fp32", **kwargs)}


# ---------------------------------------------------------------------------- PyTorch
def torch_step_flops(make_model, batch_size: int, image_shape) -> dict[str, float]:
    """FLOPs per image of one training step (forward + backward, in training mode)
    and of one evaluation step (forward, inference mode), by
    ``torch.utils.flop_counter``. ``image_shape``: (channels, height, width)."""
    import torch
    from torch.nn import functional as F
    from torch.utils.flop_counter import FlopCounterMode

    model = make_model()
    X = torch.rand(batch_size, *image_shape)
    y = torch.zeros(batch_size, dtype=torch.long)
    model.eval()
    with torch.no_grad():
        model(X[:2])  # build lazy layers
    model.train()
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(X), y).backward()
    train = counter.get_total_flops()
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(X)
    return {"train": train / batch_size, "eval": counter.get_total_flops() / batch_size}


# ------------------------------------------------------------------------- TensorFlow
def tf_step_flops(make_model, batch_size: int, image_shape) -> dict[str, float]:
    """FLOPs per image of one training step (forward + gradients of the weights) and
    of one evaluation step, read off TensorFlow's traced graphs. ``image_shape``:
    (height, width, channels). Only ops that the step's results depend on count:
    TensorFlow traces the input gradient of the first convolution too, but prunes
    it before running, as PyTorch never computes it."""
    import tensorflow as tf

    from d2l_resnet.tensorflow.utils import graph_flops

    model = make_model()
    spec_X = tf.TensorSpec((batch_size, *image_shape), tf.float32)
    spec_y = tf.TensorSpec((batch_size,), tf.int32)
    model(tf.zeros((1, *image_shape)), training=False)  # build
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train(X, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(X, training=True))
        return tape.gradient(loss, model.trainable_variables)

    def evaluate(X):
        return model(X, training=False)

    logger, level = tf.get_logger(), tf.get_logger().level
    logger.setLevel("ERROR")
    try:
        train_graph = tf.function(train).get_concrete_function(spec_X, spec_y).graph
        eval_graph = tf.function(evaluate).get_concrete_function(spec_X).graph
    finally:
        logger.setLevel(level)
    return {"train": graph_flops(train_graph) / batch_size,
            "eval": graph_flops(eval_graph) / batch_size}




# ---------------------------------------------------------------------------- machine
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The CPU's vector and matrix extensions that the frameworks' kernels use."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return sorted(f for f in line.split(":", 1)[1].split()
                                  if f.startswith(("avx", "amx", "fma")))
    except OSError:
        pass
    return []


def machine() -> dict:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu_model(), "cores": cores, "cpu_count": os.cpu_count(),
            "cpu_flags": cpu_flags(), "platform": platform.platform(),
            "python": platform.python_version()}


def versions(*packages) -> dict[str, str]:
    found = {}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found
