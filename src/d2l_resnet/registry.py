"""The book's languages and frameworks, each listed once.

What loops over the editions or the frameworks reads these tables: the library's
messages (``i18n``), the figures (``tools/figures.py``), the Sphinx extensions
(``_ext/``), the build and notebook tools and the tests. CONTRIBUTING.md's "Add a
language" and "Add a framework" start here. This module imports nothing, so that
Sphinx and the tools can read it without loading a framework.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    """One edition of the book."""

    code: str  # its folder book/<code>, and the argument of set_language
    name: str  # its name in its own language, shown in the language switcher
    tag: str  # its BCP 47 tag, for <html lang> and hreflang


@dataclass(frozen=True)
class Framework:
    """One framework of the book, with its cells, tabs and package."""

    tag: str  # the tag of its code cells and its Colab notebooks' folder
    name: str  # its name on the tabs
    # the library's subpackage, d2l_resnet.<package>, and the import name
    package: str
    # the axes of its image batches, "NCHW" or "NHWC", and the code a reader
    # runs to give one image X a batch axis or to bring a batch X of the other
    # layout into this one (named by runtime.check_images' messages)
    layout: str
    add_batch_axis: str
    from_other_layout: str


LANGUAGES = {
    lang.code: lang
    for lang in (
        Language("en", "English", "en"),
        Language("pt", "Português", "pt-BR"),
        Language("fr", "Français", "fr"),
    )
}

# In the order of the tabs and of the cells on every page.
FRAMEWORKS = {
    fw.tag: fw
    for fw in (
        Framework(
            tag="pytorch",
            name="PyTorch",
            package="torch",
            layout="NCHW",
            add_batch_axis="X.unsqueeze(0)",
            from_other_layout="X.permute(0, 3, 1, 2)",
        ),
        Framework(
            tag="tensorflow",
            name="TensorFlow",
            package="tensorflow",
            layout="NHWC",
            add_batch_axis="tf.expand_dims(X, 0)",
            from_other_layout="tf.transpose(X, (0, 2, 3, 1))",
        ),
        Framework(
            tag="jax",
            name="JAX",
            package="jax",
            layout="NHWC",
            add_batch_axis="X[None]",
            from_other_layout="jnp.transpose(X, (0, 2, 3, 1))",
        ),
    )
}
