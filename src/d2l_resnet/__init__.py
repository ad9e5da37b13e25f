"""d2l_resnet: the library behind the d2l-resnet book.

Importing this package imports neither PyTorch nor TensorFlow: use
``d2l_resnet.torch`` or ``d2l_resnet.tensorflow`` for the framework code.
"""

__version__ = "0.1.0"
