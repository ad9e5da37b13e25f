"""PyTorch side of the book's library; ``d2l_resnet.tensorflow`` mirrors its names."""

from .blocks import Residual, ResNeXtBlock
from .data import FashionMNIST
from .family import (
    BasicBlock,
    Bottleneck,
    FamilyResNet,
    PreActBlock,
    PreActBottleneck,
    build_resnet,
    gradient_norms,
    lesion_accuracies,
)
from .models import RESNET18_ARCH, ResNet, ResNet18
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
    "FamilyResNet",
    "PreActBlock",
    "PreActBottleneck",
    "build_resnet",
    "gradient_norms",
    "lesion_accuracies",
    "RESNET18_ARCH",
    "FashionMNIST",
    "ResNeXtBlock",
    "ResNet",
    "ResNet18",
    "Residual",
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
