"""Messages the library prints or plots, in the book's three languages.

A notebook of the Portuguese or French edition calls ``set_language("pt")`` (or
``"fr"``) once; progress bars, plot labels and summaries then speak that language.

Every translated text of the library and of the book's figures is a
:class:`Catalog`: ``MESSAGES`` here, ``LABELS`` in ``tools/figures.py``. Only the
strings of Sphinx and of the book's theme are gettext catalogs (``locales/``),
because Sphinx reads them from there; the library runs from a pip install in
Colab, where a table in Python needs no compiled ``.mo`` file, and its messages
carry named ``{fields}`` that the catalog checks across languages.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from .registry import LANGUAGES as _LANGUAGES

LANGUAGES = tuple(_LANGUAGES)


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


class Catalog(Mapping[str, Mapping[str, str]]):
    """One set of texts in each of the book's languages: ``catalog[lang][key]``.

    Built from ``{language: {key: text}}``, it checks at once that the
    languages are those of ``registry.LANGUAGES``, that every language has
    exactly the keys of the English table, and that each text has the same
    ``{fields}`` as its English original; a ValueError names what is wrong.

    Args:
        name: What the texts are, for the error messages (``"messages"``).
        tables: The texts of each language, by key.
    """

    def __init__(self, name: str, tables: Mapping[str, Mapping[str, str]]):
        missing = [lang for lang in LANGUAGES if lang not in tables]
        unknown = [lang for lang in tables if lang not in LANGUAGES]
        if missing or unknown:
            raise ValueError(
                f"{name}: languages missing {missing}, unknown {unknown}; give "
                f"one table for each of {', '.join(LANGUAGES)} "
                f"(d2l_resnet.registry.LANGUAGES)"
            )
        english = tables["en"]
        for lang, table in tables.items():
            absent = sorted(english.keys() - table.keys())
            extra = sorted(table.keys() - english.keys())
            if absent or extra:
                raise ValueError(
                    f"{name}, {lang}: keys missing {absent}, not in English "
                    f"{extra}; translate every English key, and only those"
                )
            for key, text in table.items():
                if _fields(text) != _fields(english[key]):
                    raise ValueError(
                        f"{name}, {lang}, {key!r}: fields "
                        f"{sorted(_fields(text))} differ from the English "
                        f"{sorted(_fields(english[key]))}; keep the same "
                        f"{{fields}} in a translation"
                    )
        self.name = name
        self._tables = {
            lang: MappingProxyType(dict(tables[lang])) for lang in LANGUAGES
        }

    def __getitem__(self, lang: str) -> Mapping[str, str]:
        if lang not in self._tables:
            raise KeyError(
                f"{self.name}: unknown language {lang!r}; choose one of "
                f"{', '.join(LANGUAGES)}"
            )
        return self._tables[lang]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def text(self, key: str, **fields: object) -> str:
        """The text ``key`` in the current language, ``fields`` filled in."""
        return self[_current][key].format(**fields)


_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "grad_norm": "gradient norm",
        "conv_layer": "convolution, from input to output",
        "deleted_block": "deleted block, from input to output",
        "no_block_deleted": "no block deleted",
        "downsampling_block": "downsampling block (not deleted)",
        "epoch": "epoch",
        "train_loss": "train loss",
        "val_loss": "validation loss",
        "val_acc": "validation accuracy",
        "output_shape": "{name:<8}output shape: {shape}",
        "config_full": (
            "Book configuration ({reason}): {resize[0]}x{resize[1]} images, batch {batch_size}, "
            "{max_epochs} epochs, lr {lr}, all {data} data."
        ),
        "config_small": (
            "Small configuration ({reason}): {resize[0]}x{resize[1]} images, batch {batch_size}, "
            "{max_epochs} epochs, lr {lr}, {num_train} training and {num_val} validation images. "
            "The book's configuration is 96x96 images, batch 128, 10 epochs, lr 0.01, all data; "
            "set D2L_RESNET_SIZE=full to run it."
        ),
        "degradation_full": (
            "Degradation run ({reason}): {num_train} training and {num_val} validation "
            "images at {resize[0]}x{resize[1]}, batch {batch_size}, {max_epochs} epochs, lr {lr}."
        ),
        "degradation_small": (
            "Reduced degradation run ({reason}): {num_train} training and {num_val} validation "
            "images at {resize[0]}x{resize[1]}, batch {batch_size}, {max_epochs} epochs, lr {lr}: "
            "as many updates as the full run (2,048 and 1,024 images in batches of 32), "
            "in about 60% of the time; set D2L_RESNET_SIZE=full to run that."
        ),
        "reason_gpu": "a GPU was found",
        "reason_cpu": "no GPU was found",
        "reason_env": "D2L_RESNET_SIZE={value}",
        "fashion_mnist": "Fashion-MNIST",
        "fit_done": (
            "{epochs} epochs in {seconds:.1f} s ({ips:.0f} images/s on {device}); "
            "validation accuracy {acc:.3f}"
        ),
    },
    "pt": {
        "grad_norm": "norma do gradiente",
        "conv_layer": "convolução, da entrada para a saída",
        "deleted_block": "bloco removido, da entrada para a saída",
        "no_block_deleted": "nenhum bloco removido",
        "downsampling_block": "bloco de subamostragem (não removido)",
        "epoch": "época",
        "train_loss": "perda de treino",
        "val_loss": "perda de validação",
        "val_acc": "acurácia de validação",
        "output_shape": "{name:<8}forma da saída: {shape}",
        "config_full": (
            "Configuração do livro ({reason}): imagens {resize[0]}x{resize[1]}, lote de "
            "{batch_size}, {max_epochs} épocas, taxa de aprendizado {lr}, todos os dados do {data}."
        ),
        "config_small": (
            "Configuração reduzida ({reason}): imagens {resize[0]}x{resize[1]}, lote de "
            "{batch_size}, {max_epochs} épocas, taxa de aprendizado {lr}, {num_train} imagens de "
            "treino e {num_val} de validação. A configuração do livro usa imagens 96x96, lote de "
            "128, 10 épocas, taxa 0,01 e todos os dados; defina D2L_RESNET_SIZE=full para rodá-la."
        ),
        "degradation_full": (
            "Experimento de degradação ({reason}): {num_train} imagens de treino e {num_val} de "
            "validação em {resize[0]}x{resize[1]}, lote de {batch_size}, {max_epochs} épocas, "
            "taxa de aprendizado {lr}."
        ),
        "degradation_small": (
            "Experimento de degradação reduzido ({reason}): {num_train} imagens de treino e "
            "{num_val} de validação em {resize[0]}x{resize[1]}, lote de {batch_size}, "
            "{max_epochs} épocas, taxa de aprendizado {lr}: tantas atualizações quanto na "
            "execução completa (2.048 e 1.024 imagens em lotes de 32), em cerca de 60% do "
            "tempo; defina D2L_RESNET_SIZE=full para rodá-la."
        ),
        "reason_gpu": "há uma GPU",
        "reason_cpu": "nenhuma GPU encontrada",
        "reason_env": "D2L_RESNET_SIZE={value}",
        "fashion_mnist": "Fashion-MNIST",
        "fit_done": (
            "{epochs} épocas em {seconds:.1f} s ({ips:.0f} imagens/s em {device}); "
            "acurácia de validação {acc:.3f}"
        ),
    },
    "fr": {
        "grad_norm": "norme du gradient",
        "conv_layer": "convolution, de l'entrée vers la sortie",
        "deleted_block": "bloc supprimé, de l'entrée vers la sortie",
        "no_block_deleted": "aucun bloc supprimé",
        "downsampling_block": "bloc de sous-échantillonnage (non supprimé)",
        "epoch": "époque",
        "train_loss": "perte d'entraînement",
        "val_loss": "perte de validation",
        "val_acc": "exactitude de validation",
        "output_shape": "{name:<8}forme de sortie\u00a0: {shape}",
        "config_full": (
            "Configuration du livre ({reason}) : images {resize[0]}x{resize[1]}, lots de "
            "{batch_size}, {max_epochs} époques, taux d'apprentissage {lr}, toutes les données de "
            "{data}."
        ),
        "config_small": (
            "Configuration réduite ({reason}) : images {resize[0]}x{resize[1]}, lots de "
            "{batch_size}, {max_epochs} époques, taux d'apprentissage {lr}, {num_train} images "
            "d'entraînement et {num_val} de validation. La configuration du livre utilise des "
            "images 96x96, des lots de 128, 10 époques, un taux de 0,01 et toutes les données ; "
            "définissez D2L_RESNET_SIZE=full pour la lancer."
        ),
        "degradation_full": (
            "Expérience de dégradation ({reason})\u00a0: {num_train} images d'entraînement et "
            "{num_val} de validation en {resize[0]}x{resize[1]}, lots de {batch_size}, "
            "{max_epochs} époques, taux d'apprentissage {lr}."
        ),
        "degradation_small": (
            "Exécution réduite de l'expérience de dégradation ({reason})\u00a0: "
            "{num_train} images d'entraînement "
            "et {num_val} de validation en {resize[0]}x{resize[1]}, lots de {batch_size}, "
            "{max_epochs} époques, taux d'apprentissage {lr}\u00a0: autant de mises à jour que "
            "dans l'exécution complète (2\u202f048 et 1\u202f024 images en lots de 32), en "
            "environ 60\u00a0% du temps\u202f; définissez D2L_RESNET_SIZE=full pour la lancer."
        ),
        "reason_gpu": "un GPU est disponible",
        "reason_cpu": "aucun GPU trouvé",
        "reason_env": "D2L_RESNET_SIZE={value}",
        "fashion_mnist": "Fashion-MNIST",
        "fit_done": (
            "{epochs} époques en {seconds:.1f} s ({ips:.0f} images/s sur {device}) ; "
            "exactitude de validation {acc:.3f}"
        ),
    },
}

MESSAGES = Catalog("messages", _MESSAGES)

_current = "en"


def set_language(lang: str) -> None:
    """Sets the language of everything the library prints or plots.

    Args:
        lang: One of ``"en"``, ``"pt"``, ``"fr"``.
    """
    global _current
    if lang not in LANGUAGES:
        raise ValueError(
            f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}"
        )
    _current = lang


def get_language() -> str:
    """Returns the current language code."""
    return _current


_SEPARATORS = {"en": (",", "."), "pt": (".", ","), "fr": ("\u202f", ",")}


def number(value: float, decimals: int | None = None) -> str:
    """``value`` written the way the current language writes numbers (4,096.5 / 4.096,5).

    Args:
        value: An int or a float.
        decimals: Fixed number of decimals; by default as many as needed.
    """
    thousands, decimal = _SEPARATORS[_current]
    if decimals is not None:
        text = f"{value:,.{decimals}f}"
    else:
        text = f"{value:,}" if isinstance(value, int) else f"{value:,.10g}"
    return (
        text.replace(",", "\0").replace(".", decimal).replace("\0", thousands)
    )


def t(key: str, **fields: object) -> str:
    """Returns the message ``key`` in the current language, formatted with ``fields``."""
    return MESSAGES.text(key, **fields)
