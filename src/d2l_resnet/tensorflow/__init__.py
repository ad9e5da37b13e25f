"""TensorFlow/Keras side of the book's library; mirrors ``d2l_resnet.torch`` name for name.

Importing it first silences TensorFlow's C++ log lines, turns on TensorFlow's oneDNN
CPU kernels where TensorFlow would leave them off (``runtime.TENSORFLOW_DEFAULTS``)
and lets TensorFlow share a GPU with PyTorch and JAX (memory growth instead of
grabbing all memory; see ``use_memory_growth``).
"""

from ..runtime import load_tensorflow

load_tensorflow()

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
    use_memory_growth,
)

use_memory_growth()

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
    "use_memory_growth",
]
