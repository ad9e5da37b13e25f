"""Tests for tools/figures.py: the book's SVG figures and their labels."""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import figures
from figures import FIGURES, LABELS, LANGS, SAME_AS_ENGLISH, plain_text, render

IMG = ROOT / "book" / "img"
SVG = "{http://www.w3.org/2000/svg}"
CASES = [(name, lang) for lang in LANGS for name in FIGURES]


class _Recorder(dict):
    """A label dictionary that remembers which keys a figure reads."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.used: set[str] = set()

    def __getitem__(self, key):
        self.used.add(key)
        return super().__getitem__(key)


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg.encode("utf-8"))
    return ["".join(el.itertext()) for el in root.iter(f"{SVG}text")]


def _used_keys(name: str) -> set[str]:
    recorder = _Recorder(LABELS["en"])
    FIGURES[name](recorder)
    return recorder.used


def test_figure_files_are_current():
    stale = figures.check_all(IMG)
    assert stale == [], "stale figures; run `python tools/figures.py`: " + ", ".join(stale)


def test_languages_have_the_same_keys():
    keys = set(LABELS["en"])
    for lang in LANGS:
        assert set(LABELS[lang]) == keys, lang


def test_every_label_is_used_by_some_figure():
    used = set().union(*(_used_keys(name) for name in FIGURES))
    assert used == set(LABELS["en"])


@pytest.mark.parametrize("lang", ["pt", "fr"])
def test_labels_are_translated(lang):
    same = {key for key, value in LABELS[lang].items() if value == LABELS["en"][key]}
    assert same == SAME_AS_ENGLISH[lang], (
        f"{lang}: untranslated labels {same - SAME_AS_ENGLISH[lang]}"
    )


@pytest.mark.parametrize("lang", LANGS)
def test_label_markup_is_balanced(lang):
    for key, value in LABELS[lang].items():
        assert value.count("$") % 2 == 0, (lang, key)
        assert value == value.strip() and "  " not in value, (lang, key)


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_svg_is_well_formed(name, lang):
    svg = render(name, lang)
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == f"{SVG}svg"
    view_box = root.get("viewBox")
    assert view_box is not None
    x0, y0, w, h = map(float, view_box.split())
    assert (x0, y0) == (0, 0) and w > 0 and h > 0
    assert float(root.get("width")) == w and float(root.get("height")) == h
    assert "sans-serif" in root.get("font-family")
    # Arrowheads are markers, with ids unique to the figure.
    markers = [m.get("id") for m in root.iter(f"{SVG}marker")]
    assert markers in ([], [f"{name}-arrowhead"])
    assert ("marker-end=" in svg) == bool(markers)
    # No timestamps, generator comments or rasterized text.
    assert "<!--" not in svg and "<image" not in svg
    assert svg.endswith("</svg>\n")


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_coordinates_stay_in_the_view_box(name, lang):
    svg = render(name, lang)
    root = ET.fromstring(svg.encode("utf-8"))
    _, _, w, h = map(float, root.get("viewBox").split())
    for el in root.iter():
        for attr, limit in (("x", w), ("cx", w), ("y", h), ("cy", h)):
            if el.get(attr) is not None and el.tag != f"{SVG}marker":
                assert -0.01 <= float(el.get(attr)) <= limit + 0.01, (el.tag, attr, el.get(attr))
    for d in re.findall(r' d="([^"]*)"', svg):
        nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]
        xs, ys = nums[0::2], nums[1::2]
        assert min(xs) >= 0 and max(xs) <= w and min(ys) >= 0 and max(ys) <= h, d


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_labels_appear_in_their_figure(name, lang):
    texts = _texts(render(name, lang))
    for key in sorted(_used_keys(name)):
        label = plain_text(LABELS[lang][key])
        assert any(label in t for t in texts), (name, lang, key, label)


def test_translated_words_appear():
    assert any("ativação" in t for t in _texts(render("residual-block", "pt")))
    assert any("activation" in t for t in _texts(render("residual-block", "fr")))
    assert any("Bloco residual" in t for t in _texts(render("resnet18", "pt")))
    assert any("groupes" in t for t in _texts(render("resnext-block", "fr")))
    for lang in ("pt", "fr"):
        joined = " ".join(_texts(render("resnet-block", lang)))
        assert "Conv 1×1" in joined and "1×1 Conv" not in joined


def test_math_markup():
    assert plain_text("$f(x) - x$") == "f(x) − x"
    assert plain_text("$F_1$ ⊆ $F_2$") == "F1 ⊆ F2"
    assert plain_text("$f^*$") == "f∗"
    assert plain_text("3×3 Conv, $b/g$") == "3×3 Conv, b/g"
    with pytest.raises(ValueError):
        plain_text("$f(x)")
    svg = render("residual-block")
    assert '<tspan font-style="italic">f</tspan>(<tspan font-weight="bold">x</tspan>)' in svg
    assert "f(x) − x" in _texts(svg)


def test_math_in_figures():
    texts = _texts(render("functionclasses", "en"))
    for i in range(1, 7):
        assert f"F{i}" in texts
    assert "f∗" in texts
    resnext = _texts(render("resnext-block", "en"))
    assert "3×3 Conv, b, g groups" in resnext and "b/g" in resnext


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_render_is_deterministic(name, lang):
    assert render(name, lang) == render(name, lang)


def test_boxes_are_wide_enough_for_their_labels():
    """Each label centred in a box is narrower than the box, in every language."""
    for name, lang in CASES:
        root = ET.fromstring(render(name, lang).encode("utf-8"))
        rects = [
            (float(r.get("x")), float(r.get("y")), float(r.get("width")), float(r.get("height")))
            for r in root.iter(f"{SVG}rect")
            if r.get("rx") == "5"
        ]
        for el in root.iter(f"{SVG}text"):
            x, y = float(el.get("x")), float(el.get("y"))
            size = float(el.get("font-size"))
            for rx, ry, rw, rh in rects:
                if el.get("text-anchor") == "middle" and rx < x < rx + rw and ry < y < ry + rh:
                    label = "".join(el.itertext())
                    width = figures.text_width(label, size)
                    assert width + 8 <= rw, (name, lang, label, width, rw)


def test_widths_come_from_the_font_matplotlib_ships():
    """Advance widths in thousandths of an em, as DejaVu Sans's own metrics give them
    (2048 units per em): a space is 651 units, a bold "W" 2259, "é" as wide as "e"."""
    assert figures.text_width(" ", 1000) == round(651 * 1000 / 2048) == 318
    assert figures.text_width("W", 1000, bold=True) == round(2259 * 1000 / 2048) == 1103
    assert figures.text_width("é", 14) == figures.text_width("e", 14)
    assert figures.text_width("$f_1$", 10) == pytest.approx(
        figures.text_width("f", 10) + 0.7 * figures.text_width("1", 10))
    with pytest.raises(ValueError, match="no glyph for '漢'"):
        figures.text_width("漢字", 14)


def test_unknown_names_are_rejected():
    with pytest.raises(KeyError):
        render("alexnet")
    with pytest.raises(KeyError):
        render("resnet18", "de")


def test_write_all_and_check_all(tmp_path):
    assert len(figures.check_all(tmp_path)) == len(CASES)
    written = figures.write_all(tmp_path)
    assert sorted(written) == sorted(tmp_path / lang / f"{name}.svg" for name, lang in CASES)
    assert figures.check_all(tmp_path) == []
    assert figures.write_all(tmp_path) == []  # unchanged files are not rewritten
    stale = tmp_path / "pt" / "resnet18.svg"
    stale.write_text(stale.read_text(encoding="utf-8").replace("Entrada", "Input"), "utf-8")
    assert figures.check_all(tmp_path) == [str(stale)]
    assert figures.write_all(tmp_path, langs=("pt",)) == [stale]
    assert figures.check_all(tmp_path) == []


def test_cli(tmp_path, capsys):
    assert figures.main(["--check", "--out-dir", str(tmp_path)]) == 1
    assert "stale:" in capsys.readouterr().out
    assert figures.main(["--out-dir", str(tmp_path), "--lang", "fr"]) == 0
    assert figures.main(["--check", "--out-dir", str(tmp_path), "--lang", "fr"]) == 0
    assert figures.main(["--check", "--out-dir", str(tmp_path)]) == 1
