"""Inspection and runtime helpers for JAX: summaries, counts, devices, seeds."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any, Protocol, cast

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.core import ShapedArray
from jax.extend import core as jax_core

from .. import i18n, runtime
from . import layers


class HasNet(Protocol):
    """A network whose top-level stages are ``net``, a ``layers.Named``: ``ResNet`` (what
    ``layer_summary`` reads)."""

    @property
    def net(self) -> layers.Named: ...


def layer_summary(model: HasNet, input_shape: Sequence[int]) -> None:
    """Prints the output shape of each top-level stage of ``model.net`` (NHWC).

    Shapes are traced, not computed (``jax.eval_shape``): nothing runs.
    """
    X = jax.ShapeDtypeStruct(tuple(input_shape), jnp.float32)
    view = nnx.view(model, use_running_average=True, raise_if_not_found=False)
    for name, layer in view.net.named_children():
        graphdef, state = nnx.split(layer)
        X = jax.eval_shape(
            lambda s, X, g=graphdef: nnx.merge(g, s)(X), state, X
        )
        print(i18n.t("output_shape", name=name, shape=tuple(X.shape)))


def count_params(
    model: nnx.Module, input_shape: Sequence[int] | None = None
) -> int:
    """Number of trainable parameters (works on ``nnx.eval_shape`` models too).

    NNX builds every weight with the module, so the count does not depend on the
    input; ``input_shape``, if given, is checked by tracing one abstract forward pass.
    """
    if input_shape is not None:
        _abstract_forward(model, input_shape)
    return sum(
        math.prod(p.shape)
        for p in jax.tree.leaves(nnx.state(model, nnx.Param))
    )


def _abstract_forward(
    model: nnx.Module, input_shape: Sequence[int]
) -> jax.ShapeDtypeStruct:
    view = nnx.view(model, use_running_average=True, raise_if_not_found=False)
    graphdef, state = nnx.split(view)
    return jax.eval_shape(
        lambda s, X: nnx.merge(graphdef, s)(X),
        state,
        jax.ShapeDtypeStruct(tuple(input_shape), jnp.float32),
    )


def block_cost(
    block: nnx.Module, input_shape: Sequence[int]
) -> dict[str, int]:
    """Parameters and FLOPs of one forward pass of ``block`` on one input of that shape.

    FLOPs come from XLA's cost analysis and count a multiply-add as 2 (the convention
    of ``torch.utils.flop_counter``); the papers' "FLOPs" count multiply-adds, i.e.
    half these numbers. Works on ``nnx.eval_shape`` models: nothing is computed.
    """
    view = nnx.view(block, use_running_average=True, raise_if_not_found=False)
    graphdef, state = nnx.split(view)
    jaxpr = jax.make_jaxpr(lambda s, X: nnx.merge(graphdef, s)(X))(
        state, jax.ShapeDtypeStruct(tuple(input_shape), jnp.float32)
    )
    return {"params": count_params(block), "flops": jaxpr_flops(jaxpr.jaxpr)}


# XLA's cost analysis of a whole network also counts every elementwise
# operation: batch norm, ReLU, additions, pooling. PyTorch's counter, and the
# papers, count only convolutions and matrix products. So we ask XLA about each
# convolution and matrix product alone (one lowering per distinct shape,
# cached, nothing compiled), and add up its answers. XLA leaves out the
# multiply-adds that fall on a convolution's padding; PyTorch (and the papers)
# count them, as the hardware computes them. So each convolution is analysed on
# its input padded beforehand, with no padding of its own: the same multiply-
# adds, all of them counted. (On ResNet-18 at 224x224, the whole program's
# count is 3.37 GFLOPs forward; the convolutions without their padding 3.36;
# with it 3.628, PyTorch's number. The stem's 7x7 convolution alone loses 7%.)
_MATMUL_PRIMITIVES = ("conv_general_dilated", "dot_general")
_cache: dict[tuple[str, str, str], int] = {}


def jaxpr_flops(jaxpr: jax_core.Jaxpr) -> int:
    """FLOPs of the convolutions and matrix products in ``jaxpr``, by XLA's count."""
    flops = 0
    for eqn in jaxpr.eqns:
        if eqn.primitive.name in _MATMUL_PRIMITIVES:
            # jax types an operand's aval as the AbstractValue base; those of a
            # convolution or a matrix product are ShapedArrays, with a shape
            # and a dtype.
            operands = [cast(ShapedArray, v.aval) for v in eqn.invars]
            shapes = [tuple(aval.shape) for aval in operands]
            params = dict(eqn.params)
            if eqn.primitive.name == "conv_general_dilated":
                lhs_spec = params["dimension_numbers"].lhs_spec
                for axis, (low, high) in zip(lhs_spec[2:], params["padding"]):
                    shapes[0] = (
                        shapes[0][:axis]
                        + (shapes[0][axis] + low + high,)
                        + shapes[0][axis + 1 :]
                    )
                params["padding"] = tuple((0, 0) for _ in params["padding"])
            avals = [
                jax.ShapeDtypeStruct(shape, aval.dtype)
                for shape, aval in zip(shapes, operands)
            ]
            key = (
                eqn.primitive.name,
                repr(sorted(params.items())),
                repr(avals),
            )
            if key not in _cache:

                def op(
                    *args: jax.Array,
                    primitive: jax_core.Primitive = eqn.primitive,
                    params: dict[str, Any] = params,
                ) -> Any:
                    return primitive.bind(*args, **params)

                cost = jax.jit(op).lower(*avals).cost_analysis()
                assert cost is not None, (
                    f"XLA gave no cost analysis of {eqn.primitive.name}"
                )
                _cache[key] = int(cost["flops"])
            flops += _cache[key]
        for sub in jax_core.jaxprs_in_params(eqn.params):
            flops += jaxpr_flops(sub)
    return flops


def gpu_available() -> bool:
    """Whether JAX sees a GPU."""
    return any(d.platform == "gpu" for d in _devices())


def _devices() -> list[jax.Device]:
    try:
        return jax.devices()
    except RuntimeError:
        return []


def try_gpu() -> jax.Device:
    """The first GPU, else the CPU."""
    gpus = [d for d in _devices() if d.platform == "gpu"]
    return gpus[0] if gpus else jax.devices("cpu")[0]


def training_config(size: str | None = None) -> runtime.TrainingConfig:
    """The book's training configuration for this machine; prints which one runs."""
    return runtime.announce(runtime.training_config(gpu_available(), size))


def degradation_config(size: str | None = None) -> runtime.DegradationConfig:
    """The degradation page's run for this machine; prints which one runs."""
    return runtime.announce(runtime.degradation_config(gpu_available(), size))


def seed_everything(seed: int = 0) -> None:
    """Seeds Python, NumPy and the random keys that new modules draw their weights from."""
    random.seed(seed)
    np.random.seed(seed)
    layers.reseed(seed)
