"""PyTorch side of the book's library; ``d2l_resnet.tensorflow`` mirrors its names."""

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
