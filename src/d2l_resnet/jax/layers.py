"""The layers that PyTorch and Keras have built in and Flax NNX lacks, or has otherwise.

- ``BatchNorm`` with PyTorch's semantics: momentum 0.1, epsilon 1e-5, and running
  variance updated with the *unbiased* batch variance, so that a model and its PyTorch
  twin agree on the running statistics too (``nnx.BatchNorm`` uses the biased one).
- ``conv`` builds an ``nnx.Conv`` with explicit symmetric padding (as PyTorch pads),
  running ``conv_general_dilated`` below, which computes tiny feature maps on a CPU as
  one matrix product: XLA's CPU convolution is up to 100x slower there.
- ``max_pool`` as the maximum of shifted slices, whose gradient XLA's CPU backend
  computes much faster than that of ``lax.reduce_window``.
- Default random keys: ``nnx.Rngs`` that ``seed_everything`` reseeds, so modules
  can be built without passing ``rngs``, as in PyTorch and Keras.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from flax.typing import PathParts
from jax import lax
from jax.typing import DTypeLike

from ..runtime import check_positive_int

_default_rngs: nnx.Rngs | None = None


def default_rngs() -> nnx.Rngs:
    """The random keys modules use when no ``rngs`` is passed (seed 0 until reseeded)."""
    global _default_rngs
    if _default_rngs is None:
        _default_rngs = nnx.Rngs(0)
    return _default_rngs


def reseed(seed: int) -> None:
    """Restarts the default random keys from ``seed``."""
    global _default_rngs
    _default_rngs = nnx.Rngs(seed)


def torch_init(
    key: jax.Array, shape: Sequence[int], dtype: DTypeLike = jnp.float32
) -> jax.Array:
    """PyTorch's default weight initialization for convolutions and linear layers:
    uniform in +-1/sqrt(fan_in) (Kaiming uniform with a=sqrt(5)), fan_in being all
    axes but the last.

    The numbers are drawn by NumPy, seeded by ``key``: drawing them with JAX compiles
    one program per weight shape, which took 4 to 27 s for ResNet-18 on 2 CPU cores.
    Under ``nnx.eval_shape`` (``key`` is traced) JAX draws them, abstractly.
    """
    bound = 1 / math.sqrt(math.prod(shape[:-1]))
    if isinstance(key, jax.core.Tracer):
        return jax.random.uniform(key, shape, dtype, -bound, bound)
    seed = np.asarray(jax.random.key_data(key)).ravel().tolist()
    values = np.random.default_rng(seed).uniform(-bound, bound, shape)
    return jnp.asarray(values, dtype)


def linear(
    in_features: int, out_features: int, *, rngs: nnx.Rngs | None = None
) -> nnx.Linear:
    """A fully connected layer initialized like PyTorch's ``nn.Linear`` weight."""
    return nnx.Linear(
        in_features,
        out_features,
        kernel_init=torch_init,
        rngs=rngs or default_rngs(),
    )


class BatchNorm(nnx.Module):
    """Batch normalization over the last (channel) axis, with PyTorch's semantics.

    In training mode (``use_running_average=False``, what ``model.train()`` sets) it
    normalizes with the batch statistics and updates the running ones; in evaluation
    mode (``model.eval()``) it uses the running statistics. Statistics are computed
    in float32 whatever the input type; the output has the input's type.

    Args:
        num_features: Channels C of the input (..., C).
        momentum: Weight of the new batch in the running averages (PyTorch's
            convention; Flax's momentum is 1 minus this).
        epsilon: Added to the variance before the square root.
    """

    def __init__(
        self,
        num_features: int,
        momentum: float = 0.1,
        epsilon: float = 1e-5,
        *,
        use_running_average: bool = False,
    ) -> None:
        self.num_features = num_features
        self.momentum = momentum
        self.epsilon = epsilon
        self.use_running_average = use_running_average
        self.scale = nnx.Param(jnp.ones((num_features,), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((num_features,), jnp.float32))
        self.mean = nnx.BatchStat(jnp.zeros((num_features,), jnp.float32))
        self.var = nnx.BatchStat(jnp.ones((num_features,), jnp.float32))

    def set_view(self, use_running_average: bool | None = None) -> None:
        """What ``nnx.view(model, use_running_average=...)`` sets (a copy in that mode)."""
        if use_running_average is not None:
            self.use_running_average = use_running_average

    def __call__(self, x: jax.Array) -> jax.Array:
        x32 = x.astype(jnp.float32)
        if self.use_running_average:
            mean, var = self.mean[...], self.var[...]
        else:
            axes = tuple(range(x.ndim - 1))
            mean = x32.mean(axes)
            # two passes: no cancellation
            var = jnp.square(x32 - mean).mean(axes)
            n = x.size // x.shape[-1]
            m = self.momentum
            unbiased = lax.stop_gradient(var) * (n / max(n - 1, 1))
            self.mean[...] = (1 - m) * self.mean[...] + m * lax.stop_gradient(
                mean
            )
            self.var[...] = (1 - m) * self.var[...] + m * unbiased
        inv = lax.rsqrt(var + self.epsilon) * self.scale[...]
        return ((x32 - mean) * inv + self.bias[...]).astype(x.dtype)


def conv(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    stride: int = 1,
    padding: int | None = None,
    groups: int = 1,
    use_bias: bool = False,
    *,
    rngs: nnx.Rngs | None = None,
) -> nnx.Conv:
    """An NHWC ``nnx.Conv`` padded like PyTorch (symmetric, ``kernel_size // 2`` by
    default), bias-free unless asked: batch norm follows almost every convolution."""
    for name, value in (
        ("in_channels", in_channels),
        ("out_channels", out_channels),
        ("kernel_size", kernel_size),
        ("stride", stride),
        ("groups", groups),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(
                f"{name} must be a positive integer, got {value!r}"
            )
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"groups={groups} must divide both in_channels={in_channels} and "
            f"out_channels={out_channels}; choose a common divisor as groups"
        )
    p = kernel_size // 2 if padding is None else padding
    return nnx.Conv(
        in_channels,
        out_channels,
        (kernel_size, kernel_size),
        strides=stride,
        padding=((p, p), (p, p)),
        feature_group_count=groups,
        use_bias=use_bias,
        kernel_init=torch_init,
        conv_general_dilated=conv_general_dilated,
        rngs=rngs or default_rngs(),
    )


# XLA's CPU convolution picks a very slow algorithm for tiny maps
# (openxla/xla#34273). Measured on 2 cores, batch 128, 3x3 convolution
# 512->512, forward / input gradient / kernel gradient: 1060 / 2146 / 1378 ms
# at 2x2, but 33 / 69 / 64 ms at 3x3; as one matrix product over the 9 shifted
# slices (im2col): 12.5 / 25 / 28 ms at 2x2 (and slower than XLA from 3x3 on).
# So maps of at most this many output pixels go im2col.
MATMUL_MAX_PIXELS = 4


def conv_general_dilated(
    lhs: jax.Array,
    rhs: jax.Array,
    window_strides: Sequence[int],
    padding: str | Sequence[tuple[int, int]],
    lhs_dilation: Sequence[int] | None = None,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers: lax.ConvGeneralDilatedDimensionNumbers = None,
    feature_group_count: int = 1,
    precision: lax.PrecisionLike = None,
    preferred_element_type: DTypeLike | None = None,
    **kwargs: Any,
) -> jax.Array:
    """``lax.conv_general_dilated`` for NHWC/HWIO, computed as one matrix product
    (``conv_as_matmul``) where that is much faster: tiny output maps on a CPU."""
    nhwc = lax.conv_dimension_numbers(
        lhs.shape, rhs.shape, ("NHWC", "HWIO", "NHWC")
    )
    plain = (
        not isinstance(padding, str)
        and lhs.ndim == 4
        and all(d in (None, 1, (1, 1)) for d in (lhs_dilation, rhs_dilation))
        and lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
        == nhwc
    )
    if plain and jax.default_backend() == "cpu":
        # plain: explicit padding (says so to mypy)
        assert not isinstance(padding, str)
        (top, bottom), (left, right) = padding
        h = (lhs.shape[1] + top + bottom - rhs.shape[0]) // window_strides[
            0
        ] + 1
        w = (lhs.shape[2] + left + right - rhs.shape[1]) // window_strides[
            1
        ] + 1
        if h * w <= MATMUL_MAX_PIXELS:
            return conv_as_matmul(
                lhs,
                rhs,
                window_strides,
                padding,
                feature_group_count,
                precision,
                preferred_element_type,
            )
    return lax.conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        padding,
        lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation,
        dimension_numbers=dimension_numbers,
        feature_group_count=feature_group_count,
        precision=precision,
        preferred_element_type=preferred_element_type,
        **kwargs,
    )


def conv_as_matmul(
    x: jax.Array,
    kernel: jax.Array,
    strides: Sequence[int] = (1, 1),
    padding: Sequence[tuple[int, int]] = ((0, 0), (0, 0)),
    groups: int = 1,
    precision: lax.PrecisionLike = None,
    preferred_element_type: DTypeLike | None = None,
) -> jax.Array:
    """A grouped 2-D convolution (NHWC input, HWIO kernel) as one matrix product.

    Gathers the kh*kw shifted (strided) slices of the padded input side by side
    (im2col), then multiplies by the kernel; each group multiplies its own slice of
    the channels. Same result, same multiply-adds as ``lax.conv_general_dilated``.
    """
    kh, kw, cin_g, cout = kernel.shape
    (sh, sw), n = strides, x.shape[0]
    x = jnp.pad(x, ((0, 0), tuple(padding[0]), tuple(padding[1]), (0, 0)))
    h = (x.shape[1] - kh) // sh + 1
    w = (x.shape[2] - kw) // sw + 1
    cols = [
        x[:, i : i + sh * (h - 1) + 1 : sh, j : j + sw * (w - 1) + 1 : sw, :]
        for i in range(kh)
        for j in range(kw)
    ]
    patches = jnp.stack(cols, axis=3).reshape(n, h, w, kh * kw, groups, cin_g)
    kernel = kernel.reshape(kh * kw, cin_g, groups, cout // groups)
    y = jnp.einsum(
        "nhwkgc,kcgo->nhwgo",
        patches,
        kernel,
        precision=precision,
        preferred_element_type=preferred_element_type,
    )
    return y.reshape(n, h, w, cout)


def max_pool(
    x: jax.Array, window: int = 3, stride: int = 2, padding: int = 1
) -> jax.Array:
    """Max-pooling over NHWC maps, padded with -inf like PyTorch's ``MaxPool2d``.

    Written as the maximum of the window's shifted strided slices: the same values as
    ``lax.reduce_window``, but XLA's CPU gradient of ``reduce_window`` (select and
    scatter) was the slowest op of a ResNet-18 step. Ties split the gradient where
    ``reduce_window`` gives it to one input; after a ReLU the only ties are zeros,
    whose gradient the ReLU discards, so training is unchanged.
    """
    check_positive_int("window", window)
    check_positive_int("stride", stride)
    p = padding
    x = jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), constant_values=-jnp.inf)
    h = (x.shape[1] - window) // stride + 1
    w = (x.shape[2] - window) // stride + 1
    slices = (
        x[
            :,
            i : i + stride * (h - 1) + 1 : stride,
            j : j + stride * (w - 1) + 1 : stride,
            :,
        ]
        for i in range(window)
        for j in range(window)
    )
    return functools.reduce(jnp.maximum, slices)


def global_avg_pool(x: jax.Array) -> jax.Array:
    """Mean over height and width: (N, H, W, C) to (N, C)."""
    return x.mean(axis=(1, 2))


class Named(nnx.Module):
    """Named stages applied in order (``net.stem``, ``net.stage1``, ...), like a
    PyTorch ``Sequential`` built with ``add_module``; ``names`` keeps the order."""

    # The first and last stages of every ``ResNet``, read by name; the
    # ones between (``stage1``, ...) through ``named_children``.
    stem: nnx.Sequential
    head: nnx.Sequential

    def __init__(self, **layers: nnx.Sequential) -> None:
        self.names = tuple(layers)
        for name, layer in layers.items():
            setattr(self, name, layer)

    def __call__(self, x: jax.Array) -> jax.Array:
        for name in self.names:
            x = getattr(self, name)(x)
        return x

    def named_children(self) -> list[tuple[str, nnx.Sequential]]:
        """``(name, layer)`` pairs in order."""
        return [(name, getattr(self, name)) for name in self.names]


def call_order(
    model: nnx.Module,
    input_shape: Sequence[int],
    types: Iterable[type[nnx.Module]],
) -> list[PathParts]:
    """Paths (as in ``nnx.state``) of the submodules of the given ``types``, in the order
    a forward pass on an input of ``input_shape`` calls them: input to output.

    NNX keeps no definition order (it sorts attributes by name once a transform ran),
    so the order is read off one traced, not computed, pass in evaluation mode.
    """
    types = tuple(types)
    view = nnx.view(model, use_running_average=True, raise_if_not_found=False)
    paths = {
        id(m): path for path, m in nnx.iter_graph(view) if isinstance(m, types)
    }
    order, originals = [], {t: t.__call__ for t in types}

    def recording(call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: nnx.Module, *args: Any, **kwargs: Any) -> Any:
            if id(self) in paths and paths[id(self)] not in order:
                order.append(paths[id(self)])
            return call(self, *args, **kwargs)

        return wrapper

    # setattr: mypy reads ``t.__call__`` on a class as the constructor
    # (type.__call__), which may not be assigned; it is the instances' method
    # that is swapped here.
    try:
        for t in types:
            setattr(t, "__call__", recording(originals[t]))  # noqa: B010
        jax.eval_shape(
            view, jax.ShapeDtypeStruct(tuple(input_shape), jnp.float32)
        )
    finally:
        for t in types:
            setattr(t, "__call__", originals[t])  # noqa: B010
    return order
