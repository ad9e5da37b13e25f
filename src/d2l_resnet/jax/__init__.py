"""JAX side of the book's library (Flax NNX, Optax); mirrors ``d2l_resnet.torch`` name
for name. Images are NHWC, as in ``d2l_resnet.tensorflow``.

JAX shares a GPU with PyTorch and TensorFlow only if ``d2l_resnet`` was imported before
JAX first used the GPU: the package sets ``XLA_PYTHON_CLIENT_PREALLOCATE=false``, which
JAX reads then, once. Importing this module warns when that came too late.
"""

import warnings

from .blocks import BasicBlock, Bottleneck, PreActBlock, PreActBottleneck
from .data import FashionMNIST
from .experiments import gradient_norms, lesion_accuracies
from .models import ResNet
from .train import Trainer
from .utils import (
    block_cost,
    count_params,
    degradation_config,
    gpu_available,
    layer_summary,
    seed_everything,
    training_config,
    try_gpu,
)


def _warn_if_preallocated() -> None:
    """Warns when JAX took its share of the GPU's memory before d2l_resnet was
    imported: nothing gives it back in this process."""
    from .. import _jax_started_first  # read now, so that a test can set it

    if _jax_started_first and gpu_available():
        warnings.warn(
            "JAX started on the GPU before d2l_resnet was imported, so it has taken most of "
            "the GPU's memory (75% by default) and PyTorch or TensorFlow may run out of it: "
            "the XLA_PYTHON_CLIENT_PREALLOCATE=false that d2l_resnet sets came too late. "
            "Restart the kernel and import d2l_resnet before the first JAX computation, or "
            "set XLA_PYTHON_CLIENT_PREALLOCATE=false before Python starts.",
            RuntimeWarning,
            stacklevel=2,
        )


_warn_if_preallocated()

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "PreActBlock",
    "PreActBottleneck",
    "gradient_norms",
    "lesion_accuracies",
    "FashionMNIST",
    "ResNet",
    "Trainer",
    "block_cost",
    "count_params",
    "gpu_available",
    "layer_summary",
    "seed_everything",
    "degradation_config",
    "training_config",
    "try_gpu",
]
