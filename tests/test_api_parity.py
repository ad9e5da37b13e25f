"""The three framework packages offer one API: same public names, same signatures,
same meaning of the attributes that the pages and the tests read.

Only the differences in ``ALLOWED`` may separate them, each with the reason the
framework imposes it. A new public name, parameter or default that one package lacks
fails here until the other two have it or it is added to ``ALLOWED`` with its reason.
"""

import importlib
import inspect

import pytest

from d2l_resnet.registry import FRAMEWORKS
from d2l_resnet.variants import cifar_variant

tf = pytest.importorskip("tensorflow")
jax = pytest.importorskip("jax")
# Every framework of the registry, by its cell tag: a new one is compared at once.
PACKAGES = {tag: importlib.import_module(f"d2l_resnet.{fw.package}")
            for tag, fw in FRAMEWORKS.items()}
d2l_torch, d2l_tf, d2l_jax = (PACKAGES[tag] for tag in ("pytorch", "tensorflow", "jax"))

# (framework, public name or "Class.method", parameter) -> why the framework needs it.
ALLOWED = {
    ("tensorflow", "*", "kwargs"):
        "Keras layers and models take name=, dtype= and trainable= through **kwargs",
    ("jax", "*", "rngs"):
        "Flax NNX creates weights when a module is built and needs its random streams",
    ("pytorch", "Trainer", "channels_last"):
        "memory layout is a choice in PyTorch only; Keras and XLA pick it themselves",
    ("tensorflow", "Trainer", "jit_compile"):
        "TensorFlow compiles with XLA only on request (slower on CPUs here); JAX always "
        "does, PyTorch has no XLA",
    **{(fw, f"FashionMNIST.{split}_dataloader", "device"):
       "batches move to a device by hand in PyTorch and JAX; TensorFlow places them in "
       "the tf.device scope that its Trainer opens (prefetch_to_device would cost the "
       "tf.data pipeline its known length)"
       for fw in ("pytorch", "jax") for split in ("train", "val")},
}
# (framework, "Class.method", parameter) that the framework's signature lacks, and why.
ABSENT = {
    ("tensorflow", "ResNet.stem", "in_channels"):
        "Keras layers take their input channels from the first batch; ResNet.build "
        "checks them against in_channels",
}
# Framework-only public names, and why.
EXTRA_NAMES = {
    ("tensorflow", "use_memory_growth"):
        "TensorFlow alone takes all GPU memory unless told otherwise at start-up",
}
# Parameters whose default may differ, and why.
ALLOWED_DEFAULTS = {
    ("jax", "count_params", "input_shape"):
        "NNX weights exist before any input, so the shape is optional there",
}
# Framework hooks: each framework calls its own (forward, call, __call__, build...).
HOOKS = {"forward", "call", "build", "compute_output_shape", "get_config"}


def _public_names(fw):
    return set(PACKAGES[fw].__all__) - {name for f, name in EXTRA_NAMES if f == fw}


def _exempt(fw, qualname, name, torch_names):
    """Whether ``ALLOWED`` lets this parameter exist in ``fw`` only: a "*" entry covers
    every signature in which PyTorch lacks the parameter."""
    return (fw, qualname, name) in ALLOWED or (
        (fw, "*", name) in ALLOWED and name not in torch_names)


def _params(fw, qualname, func, torch_names=()):
    """(name, kind, default) of every parameter ``ALLOWED`` does not exempt."""
    out = []
    for p in inspect.signature(func).parameters.values():
        if p.name == "self" or _exempt(fw, qualname, p.name, torch_names):
            continue
        default = "<default differs: allowed>" if (fw, qualname, p.name) in ALLOWED_DEFAULTS \
            else p.default
        kind = p.kind if p.kind is not p.KEYWORD_ONLY else p.POSITIONAL_OR_KEYWORD
        out.append((p.name, kind.name, repr(default)))
    return out


def _exempt_defaults(fw_params, qualname):
    """Marks defaults that ``ALLOWED_DEFAULTS`` lets differ, in every framework's list."""
    names = {p for (_, q, p) in ALLOWED_DEFAULTS if q == qualname}
    return {fw: [(n, k, "<default differs: allowed>" if n in names else d) for n, k, d in ps]
            for fw, ps in fw_params.items()}


def test_the_same_public_names():
    names = {fw: _public_names(fw) for fw in PACKAGES}
    assert names["pytorch"] == names["tensorflow"] == names["jax"], {
        fw: sorted(n - names["pytorch"]) + sorted(names["pytorch"] - n)
        for fw, n in names.items()}


def _signatures():
    """Every public function, class constructor and public method, as (qualname, objs)."""
    rows = []
    for name in sorted(_public_names("pytorch")):
        objs = {fw: getattr(PACKAGES[fw], name) for fw in PACKAGES}
        if all(inspect.isclass(o) for o in objs.values()):
            rows.append((name, {fw: o.__init__ for fw, o in objs.items()}))
            methods = set()
            # Methods of the library's own classes, inherited ones too (Trainer.fit
            # comes from training.BaseTrainer), but not those of nn.Module or
            # keras.Layer, nor those of a public base, checked under its own name.
            own = [c for o in objs.values() for c in o.__mro__
                   if c.__module__.startswith("d2l_resnet")
                   and (c is o or c.__name__ not in PACKAGES["pytorch"].__all__)]
            for c in own:
                methods |= {m for m, v in vars(c).items()
                            if not m.startswith("_") and m not in HOOKS
                            and (callable(v) or isinstance(v, (staticmethod, classmethod)))}
            for m in sorted(methods):
                rows.append((f"{name}.{m}", {fw: getattr(o, m, None) for fw, o in objs.items()}))
        elif all(callable(o) for o in objs.values()):
            rows.append((name, objs))
    return rows


@pytest.mark.parametrize("qualname,funcs", _signatures(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_the_same_signature(qualname, funcs):
    missing = [fw for fw, f in funcs.items() if f is None]
    assert not missing, f"{qualname} is missing in {missing}"
    torch_names = set(inspect.signature(funcs["pytorch"]).parameters)
    params = _exempt_defaults(
        {fw: _params(fw, qualname, f, torch_names) for fw, f in funcs.items()}, qualname)
    absent = {p for (_, q, p) in ABSENT if q == qualname}
    params = {fw: [row for row in ps if row[0] not in absent] for fw, ps in params.items()}
    assert params["pytorch"] == params["tensorflow"] == params["jax"], params


def test_the_allowed_differences_are_still_needed():
    """An exemption that no framework uses any more is removed, not left to rot."""
    used = set()
    for qualname, funcs in _signatures():
        torch_names = set(inspect.signature(funcs["pytorch"]).parameters)
        for fw, f in funcs.items():
            for p in inspect.signature(f).parameters:
                if (fw, qualname, p) in ALLOWED or (fw, qualname, p) in ALLOWED_DEFAULTS:
                    used.add((fw, qualname, p))
                elif _exempt(fw, qualname, p, torch_names):
                    used.add((fw, "*", p))
    assert used == set(ALLOWED) | set(ALLOWED_DEFAULTS)
    signatures = dict(_signatures())
    for fw, qualname, p in ABSENT:
        funcs = signatures[qualname]
        assert p not in inspect.signature(funcs[fw]).parameters
        assert p in inspect.signature(funcs["pytorch"]).parameters
    for fw, name in EXTRA_NAMES:
        assert name in PACKAGES[fw].__all__


@pytest.mark.parametrize("fw", PACKAGES)
def test_shortcut_attributes_mean_the_same(fw):
    """``use_shortcut`` False: a plain block; ``shortcut`` None: the identity; else the
    projection, in every framework (the lesion and gradient helpers read these)."""
    d2l = PACKAGES[fw]
    for shortcuts in (True, False):
        model = d2l.ResNet(cifar_variant(8, shortcuts=shortcuts), 10, 1)
        blocks = _blocks(fw, model)
        assert [b.use_shortcut for b in blocks] == [shortcuts] * 3
        # Stage 1 keeps the shape; stages 2 and 3 halve it and double the width.
        expected = [True, False, False] if shortcuts else [True, True, True]
        assert [b.shortcut is None for b in blocks] == expected
        assert model.in_channels == 1 and model.spec.name.endswith("-8") and model.lr == 0.1


def _blocks(fw, model):
    if fw == "pytorch":
        return [b for name, stage in model.net.named_children() if name.startswith("stage")
                for b in stage]
    if fw == "tensorflow":
        return [b for stage in model.net.layers if stage.name.startswith("stage")
                for b in stage.layers]
    return [b for name, stage in model.net.named_children() if name.startswith("stage")
            for b in stage.layers]


@pytest.mark.parametrize("fw,bf16", [("pytorch", "torch.bfloat16"),
                                     ("tensorflow", "tf.bfloat16"),
                                     ("jax", "jax.numpy.bfloat16")])
def test_trainer_dtype_means_the_same(fw, bf16):
    """``Trainer.dtype``: the compute dtype of mixed precision, None when it is off."""
    import torch  # noqa: F401  (named in the parameters)

    Trainer = PACKAGES[fw].Trainer
    assert Trainer(1, mixed_precision="off", plot=False).dtype is None
    assert Trainer(1, mixed_precision="bf16", plot=False).dtype == eval(bf16)
