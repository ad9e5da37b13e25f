"""d2l_resnet: the library behind the d2l-resnet book.

Importing this package imports no framework: use ``d2l_resnet.torch``,
``d2l_resnet.tensorflow`` or ``d2l_resnet.jax`` for the framework code.

It sets two environment variables (unless the reader has set them) so that PyTorch,
TensorFlow and JAX can share one GPU in one process: see ``GPU_SHARING``.
"""

import os as _os
import sys as _sys

from .i18n import get_language, set_language

__all__ = ["get_language", "set_language"]
__version__ = "0.1.0"

# The book's source notebooks run PyTorch, TensorFlow and JAX cells in one
# kernel on one GPU. By default JAX takes 75% of the GPU's memory when it first
# uses the GPU and TensorFlow all of it, so the framework that comes next runs
# out of memory. Both read these variables when they first use the GPU, not
# when they are imported, and every notebook imports this package before its
# first framework cell. A reader's value wins.
GPU_SHARING = {
    "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
    "TF_FORCE_GPU_ALLOW_GROWTH": "true",
}


def _jax_backend_started() -> bool:
    """Whether JAX, imported before this package, has already set up its devices (and
    so preallocated, on a GPU). Looks only at modules already loaded: imports nothing."""
    bridge = _sys.modules.get("jax._src.xla_bridge")
    started = getattr(bridge, "backends_are_initialized", None)
    return bool(started and started())


# True when the JAX setting comes too late; d2l_resnet.jax warns if JAX is on a
# GPU.
_jax_started_first = (
    "XLA_PYTHON_CLIENT_PREALLOCATE" not in _os.environ
    and _jax_backend_started()
)
for _name, _value in GPU_SHARING.items():
    _os.environ.setdefault(_name, _value)
