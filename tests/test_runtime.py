"""The sizing rule, input validation helpers and localized messages."""

import os
import re
import subprocess
import sys

import pytest

from d2l_resnet import i18n, runtime
from d2l_resnet.registry import FRAMEWORKS


@pytest.fixture(autouse=True)
def _english():
    yield
    i18n.set_language("en")


@pytest.mark.parametrize("gpu,env,size", [
    (True, None, "full"), (False, None, "small"), (False, "full", "full"),
    (True, "small", "small"), (True, "auto", "full"), (False, " Auto ", "small"),
])
def test_sizing_rule(monkeypatch, gpu, env, size):
    if env is None:
        monkeypatch.delenv(runtime.SIZE_ENV, raising=False)
    else:
        monkeypatch.setenv(runtime.SIZE_ENV, env)
    assert runtime.training_config(gpu=gpu).size == size


def test_full_size_is_the_books_configuration():
    config = runtime.training_config(gpu=True, size="full")
    assert (config.resize, config.batch_size, config.max_epochs, config.lr) == (
        (96, 96), 128, 10, 0.01)
    assert config.num_train is None and config.num_val is None


def test_small_configuration_says_what_it_is(monkeypatch):
    monkeypatch.delenv(runtime.SIZE_ENV, raising=False)
    text = runtime.training_config(gpu=False).describe()
    assert "Small configuration (no GPU was found)" in text
    assert "D2L_RESNET_SIZE=full" in text and "96x96" in text


def test_env_override_is_named_as_the_reason(monkeypatch):
    monkeypatch.setenv(runtime.SIZE_ENV, "full")
    assert "D2L_RESNET_SIZE=full" in runtime.training_config(gpu=False).describe()


def test_bad_size_value(monkeypatch):
    monkeypatch.setenv(runtime.SIZE_ENV, "huge")
    with pytest.raises(ValueError, match="must be 'auto', 'full' or 'small'"):
        runtime.training_config(gpu=False)


@pytest.mark.parametrize("gpu,env,size", [
    (True, None, "full"), (False, None, "small"), (False, "full", "full"),
    (True, "small", "small"), (False, "auto", "small"), (True, "auto", "full"),
])
def test_degradation_sizing_rule_is_the_training_rule(monkeypatch, gpu, env, size):
    if env is None:
        monkeypatch.delenv(runtime.SIZE_ENV, raising=False)
    else:
        monkeypatch.setenv(runtime.SIZE_ENV, env)
    assert runtime.degradation_config(gpu=gpu).size == size
    assert runtime.training_config(gpu=gpu).size == size


def test_degradation_runs_keep_the_updates_and_the_learning_rate(monkeypatch):
    monkeypatch.delenv(runtime.SIZE_ENV, raising=False)
    full = runtime.degradation_config(gpu=True)
    small = runtime.degradation_config(gpu=False)
    assert (full.resize, full.batch_size, full.num_train, full.num_val, full.max_epochs,
            full.lr) == ((28, 28), 32, 2048, 1024, 3, 0.02)
    assert small.num_train < full.num_train and small.num_val < full.num_val
    assert small.num_train // small.batch_size == full.num_train // full.batch_size
    assert (small.max_epochs, small.lr, small.resize) == (full.max_epochs, full.lr, full.resize)


@pytest.mark.parametrize("lang,words", [
    ("en", ("Reduced degradation run (no GPU was found", "1,024 training", "batch 16",
            "2,048 and 1,024 images in batches of 32")),
    ("pt", ("Experimento de degradação reduzido (nenhuma GPU encontrada", "1.024 imagens",
            "lote de 16", "2.048 e 1.024 imagens em lotes de 32")),
    ("fr", ("Exécution réduite de l'expérience de dégradation (aucun GPU trouvé",
            "1\u202f024 images", "lots de 16", "2\u202f048 et 1\u202f024 images en lots de 32")),
])
def test_degradation_run_says_what_it_is(monkeypatch, lang, words):
    monkeypatch.delenv(runtime.SIZE_ENV, raising=False)
    i18n.set_language(lang)
    text = runtime.degradation_config(gpu=False).describe()
    assert all(w in text for w in words), text
    assert "D2L_RESNET_SIZE=full" in text
    full = runtime.degradation_config(gpu=True).describe()
    assert "D2L_RESNET_SIZE" not in full and "2,048" not in text.split(":")[0], full


def test_degradation_bad_size_value(monkeypatch):
    monkeypatch.setenv(runtime.SIZE_ENV, "tiny")
    with pytest.raises(ValueError, match="must be 'auto', 'full' or 'small'"):
        runtime.degradation_config(gpu=False)


@pytest.mark.parametrize("value,expected", [(96, (96, 96)), ((32, 48), (32, 48)),
                                            ([28, 28], (28, 28))])
def test_parse_resize(value, expected):
    assert runtime.parse_resize(value) == expected


@pytest.mark.parametrize("value", [0, -3, (96,), (96, 0), "96", (96.0, 96), True, None])
def test_malformed_resize(value):
    with pytest.raises(ValueError, match=r"resize must be .* e\.g\. resize=\(96, 96\)"):
        runtime.parse_resize(value)


@pytest.mark.parametrize("value", [0, -1, 2.5, "3", True])
def test_check_positive_int(value):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        runtime.check_positive_int("batch_size", value)


def test_every_language_has_every_message():
    assert isinstance(i18n.MESSAGES, i18n.Catalog)
    keys = set(i18n.MESSAGES["en"])
    for lang in i18n.LANGUAGES:
        assert set(i18n.MESSAGES[lang]) == keys


def _tables(**changes):
    tables = {lang: {"done": "{n} ok", "name": "x"} for lang in i18n.LANGUAGES}
    for lang, table in changes.items():
        tables[lang] = table
    return tables


@pytest.mark.parametrize("tables,problem", [
    ({lang: {"done": "{n}"} for lang in ("en", "pt")}, r"languages missing \['fr'\]"),
    ({**_tables(), "de": {"done": "{n}", "name": "x"}}, r"unknown \['de'\]"),
    (_tables(pt={"done": "{n} ok"}), r"pt: keys missing \['name'\]"),
    (_tables(fr={"done": "{n} ok", "name": "x", "typo": "y"}), r"not in English \['typo'\]"),
    (_tables(fr={"done": "{count} ok", "name": "x"}), r"fr, 'done': fields \['count'\]"),
])
def test_a_catalog_names_what_a_translation_lacks(tables, problem):
    with pytest.raises(ValueError, match=problem):
        i18n.Catalog("test", tables)


def test_a_catalog_gives_the_current_language():
    catalog = i18n.Catalog("test", _tables(pt={"done": "{n} feito", "name": "x"}))
    assert catalog.text("done", n=3) == "3 ok"
    i18n.set_language("pt")
    assert catalog.text("done", n=3) == "3 feito"
    assert catalog["en"]["done"] == "{n} ok"
    with pytest.raises(KeyError, match="unknown language 'de'; choose one of en, pt, fr"):
        catalog["de"]


@pytest.mark.parametrize("lang,word", [("pt", "Configuração reduzida"),
                                       ("fr", "Configuration réduite")])
def test_messages_follow_language(lang, word):
    i18n.set_language(lang)
    assert word in runtime.training_config(gpu=False, size="small").describe()


def test_unknown_language():
    with pytest.raises(ValueError, match="choose one of en, pt, fr"):
        i18n.set_language("de")


def test_package_imports_no_framework():
    code = ("import sys, d2l_resnet, d2l_resnet.runtime, d2l_resnet.training, "
            "d2l_resnet.registry, d2l_resnet.tables; "
            "assert 'torch' not in sys.modules and 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_table_renders_markdown_in_the_current_language():
    from d2l_resnet.tables import Table

    table = Table(["g", "params", "ratio"], [[1, 11456, 1.0], [32, 2560, 4.475]])
    assert table._repr_markdown_().splitlines() == [
        "| g | params | ratio |", "|---:|---:|---:|",
        "| 1 | 11,456 | 1.00 |", "| 32 | 2,560 | 4.47 |"]
    i18n.set_language("fr")
    assert "| 1 | 11\u202f456 | 1,00 |" in table._repr_markdown_() or \
        "11\u202f456" in Table(["p"], [[11456]])._repr_markdown_()
    with pytest.raises(ValueError, match="has 2 cells, expected 3"):
        Table(["a", "b", "c"], [[1, 2]])


def _tensorflow_import(code: str, **env) -> subprocess.CompletedProcess:
    """Runs ``code`` in a new Python whose environment lacks TensorFlow's variables."""
    clean = {k: v for k, v in os.environ.items() if k not in runtime.TENSORFLOW_DEFAULTS}
    clean.update(env)
    return subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True,
                          text=True, check=True)


@pytest.mark.parametrize("mine", [None, "0"])
def test_tensorflow_loads_with_onednn_unless_the_reader_said_otherwise(mine):
    env = {} if mine is None else {"TF_ENABLE_ONEDNN_OPTS": mine}
    code = ("import os, sys; import d2l_resnet.tensorflow; "
            "print('tensorflow' in sys.modules, os.environ['TF_ENABLE_ONEDNN_OPTS'], "
            "os.environ['TF_CPP_MIN_LOG_LEVEL'])")
    out = _tensorflow_import(code, **env).stdout.split()
    assert out == ["True", mine or "1", "3"]


def test_the_onednn_setting_turns_tensorflows_onednn_kernels_on():
    # TensorFlow says so in one log line at import (port.cc); with the variable unset
    # it stays silent on a CPU without AVX512-VNNI, BF16 or AMX, and says it otherwise.
    line = "oneDNN custom operations are on"
    on = _tensorflow_import("import tensorflow", TF_CPP_MIN_LOG_LEVEL="0",
                            TF_ENABLE_ONEDNN_OPTS=runtime.TENSORFLOW_DEFAULTS[
                                "TF_ENABLE_ONEDNN_OPTS"])
    off = _tensorflow_import("import tensorflow", TF_CPP_MIN_LOG_LEVEL="0",
                             TF_ENABLE_ONEDNN_OPTS="0")
    assert line in on.stderr and line not in off.stderr


def _batch(layout, channels, size=32):
    return (2, channels, size, size) if layout == "NCHW" else (2, size, size, channels)


@pytest.mark.parametrize("tag", list(FRAMEWORKS))
def test_one_image_check_for_every_framework(tag):
    fw = FRAMEWORKS[tag]
    other = "NHWC" if fw.layout == "NCHW" else "NCHW"
    for in_channels in (None, 1):  # a model that has not seen input yet, a built one
        runtime.check_images(_batch(fw.layout, 1), tag, in_channels)
        with pytest.raises(ValueError, match=re.escape(
                f"looks {other}") + r".*use " + re.escape(fw.from_other_layout)):
            runtime.check_images(_batch(other, 1), tag, in_channels)
        with pytest.raises(ValueError, match=r"expects a 4-D batch .*add a batch axis with "
                           + re.escape(fw.add_batch_axis)):
            runtime.check_images(_batch(fw.layout, 1)[1:], tag, in_channels)
    with pytest.raises(ValueError, match=r"ResNet-8 was built for 3 input channels, got "
                       r"input of shape .*; build it with in_channels=1"):
        runtime.check_images(_batch(fw.layout, 1), tag, 3, "ResNet-8")
    # Unbuilt, a batch of 4 small maps of many channels is not taken for the other layout.
    runtime.check_images(_batch(fw.layout, 64, size=4), tag)
    if fw.layout == "NHWC":  # Keras traces with unknown axes
        runtime.check_images((None, None, None, 1), tag, 1)
