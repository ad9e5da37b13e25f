"""d2l_resnet: the library behind the d2l-resnet book.

Importing this package imports no framework: use ``d2l_resnet.torch``,
``d2l_resnet.tensorflow`` or ``d2l_resnet.jax`` for the framework code.
"""

from .i18n import get_language, set_language

__all__ = ["get_language", "set_language"]
__version__ = "0.1.0"
