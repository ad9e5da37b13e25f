"""Inspection and runtime helpers for TensorFlow: summaries, counts, devices, seeds."""

from __future__ import annotations

import math

import tensorflow as tf

from .. import i18n, runtime


def layer_summary(model: tf.keras.Model, input_shape: tuple[int, ...]) -> None:
    """Prints the output shape of each top-level stage of ``model.net`` (NHWC)."""
    X = tf.random.normal(input_shape)
    for layer in model.net.layers:
        X = layer(X, training=False)
        print(i18n.t("output_shape", name=layer.name, shape=tuple(X.shape)))


def count_params(
    model: tf.keras.layers.Layer, input_shape: tuple[int, ...]
) -> int:
    """Number of trainable parameters; builds the model with a dummy input first."""
    model(tf.zeros(input_shape), training=False)
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def block_cost(
    block: tf.keras.layers.Layer, input_shape: tuple[int, ...]
) -> dict[str, int]:
    """Parameters and FLOPs of one forward pass of ``block`` on one input of that shape.

    FLOPs are read off the traced graph's convolutions and matrix products and
    count a multiply-add as 2, the convention of ``torch.utils.flop_counter``.
    """
    logger, level = tf.get_logger(), tf.get_logger().level
    # building many grouped convolutions warns about retracing
    logger.setLevel("ERROR")
    try:
        params = count_params(block, input_shape)
        graph = (
            tf.function(lambda X: block(X, training=False))
            .get_concrete_function(tf.TensorSpec(input_shape, tf.float32))
            .graph
        )
    finally:
        logger.setLevel(level)
    return {"params": params, "flops": graph_flops(graph)}


def graph_flops(graph: tf.Graph) -> int:
    """FLOPs of the convolutions and matrix products (forward and backward) that the
    outputs of ``graph`` depend on; a multiply-add counts 2. TensorFlow's own count
    (``tf.compat.v1.profiler`` with ``float_operation()``) adds the elementwise ops
    (batch norm, ReLU, additions), which PyTorch's ``torch.utils.flop_counter`` and
    the papers leave out, so the ops are counted here. Only ops that the outputs depend on
    count: a gradient tape traces the input gradient of the first convolution too,
    which TensorFlow prunes before running."""
    live = _live_ops(graph)
    flops = 0
    for op in live:
        t = op.type
        if t in ("Conv2D", "DepthwiseConv2dNative"):
            kh, kw, cin_per_group, _ = op.inputs[1].shape
            flops += (
                2 * math.prod(op.outputs[0].shape) * kh * kw * cin_per_group
            )
        # inputs: sizes, filter, grad of the output
        elif t == "Conv2DBackpropInput":
            kh, kw, cin_per_group, _ = op.inputs[1].shape
            flops += (
                2 * math.prod(op.inputs[2].shape) * kh * kw * cin_per_group
            )
        # inputs: input, filter sizes, grad of output
        elif t == "Conv2DBackpropFilter":
            kh, kw, cin_per_group, _ = op.outputs[0].shape
            flops += (
                2 * math.prod(op.inputs[2].shape) * kh * kw * cin_per_group
            )
        elif t in ("MatMul", "BatchMatMulV2", "BatchMatMulV3"):
            a = op.inputs[0].shape
            adj = (
                op.get_attr("transpose_a")
                if t == "MatMul"
                else op.get_attr("adj_x")
            )
            inner = a[-2] if adj else a[-1]
            flops += 2 * math.prod(op.outputs[0].shape) * inner
        elif t.endswith("PartitionedCall"):
            # Keras runs grouped convolutions on the CPU as a nested (XLA)
            # function.
            flops += graph_flops(
                graph._get_function(op.get_attr("f").name).graph
            )
    return int(flops)


def _live_ops(graph: tf.Graph) -> list[tf.Operation]:
    """The ops that the graph's outputs and control outputs depend on."""
    roots = [t.op for t in graph.outputs] + list(
        getattr(graph, "control_outputs", [])
    )
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return [op for op in graph.get_operations() if op.name in seen]


def gpu_available() -> bool:
    """Whether TensorFlow sees a GPU."""
    return bool(tf.config.list_physical_devices("GPU"))


def try_gpu() -> str:
    """The first GPU's device name, else the CPU's."""
    return "/GPU:0" if gpu_available() else "/CPU:0"


def use_memory_growth() -> None:
    """Lets TensorFlow take GPU memory as needed, so PyTorch and JAX can share the GPU.

    ``import d2l_resnet`` already sets ``TF_FORCE_GPU_ALLOW_GROWTH=true`` (unless the
    reader set it), and where that variable is set TensorFlow follows it and ignores
    this setting. This is the in-code equivalent, for a process without the variable;
    like it, it works only before TensorFlow first uses the GPU.
    """
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        # the GPU was initialized already; nothing to change
        except RuntimeError:
            pass


def training_config(size: str | None = None) -> runtime.TrainingConfig:
    """The book's training configuration for this machine; prints which one runs."""
    return runtime.announce(runtime.training_config(gpu_available(), size))


def degradation_config(size: str | None = None) -> runtime.DegradationConfig:
    """The degradation page's run for this machine; prints which one runs."""
    return runtime.announce(runtime.degradation_config(gpu_available(), size))


def seed_everything(seed: int = 0) -> None:
    """Seeds Python, NumPy and TensorFlow for a reproducible run."""
    tf.keras.utils.set_random_seed(seed)
