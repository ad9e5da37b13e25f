"""The book's figures, drawn by code as self-contained SVG.

Each figure is a function ``labels -> str`` that builds SVG markup by plain
string formatting: the output depends only on the labels, so it is
byte-for-byte reproducible (no timestamps, no random ids), and every piece of
text is a real ``<text>`` element whose words come from :data:`LABELS`, one
dictionary per language of the book.

Label markup
------------
Labels are plain text, except that ``$...$`` marks mathematics, drawn the way
the book typesets it: letters in italic (``$f$``, ``$b/g$``), except ``x``,
the input vector, in bold upright; ``_1`` makes a subscript and ``^*`` a
superscript asterisk; ``-`` becomes a minus sign.  :func:`plain_text` gives
the characters a reader sees, e.g. ``plain_text("$f(x) - x$") == "f(x) − x"``.

Usage
-----
``python tools/figures.py`` (re)writes ``book/img/<lang>/<name>.svg`` for
every figure and language; ``python tools/figures.py --check`` writes
nothing and exits with status 1, listing them, if some files are missing or
stale.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from matplotlib import font_manager
from matplotlib.ft2font import FT2Font, LoadFlags

from d2l_resnet.i18n import Catalog
from d2l_resnet.registry import LANGUAGES

__all__ = [
    "FIGURES",
    "LABELS",
    "LANGS",
    "SAME_AS_ENGLISH",
    "check_all",
    "main",
    "plain_text",
    "render",
    "write_all",
]

LANGS = tuple(LANGUAGES)

# ---------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------

# The same mechanism as the messages the library prints (d2l_resnet.i18n):
# a Catalog checks that every language labels every element.
LABELS = Catalog("figure labels", {
    "en": {
        "nonnested_title": "Non-nested function classes",
        "nested_title": "Nested function classes",
        "weight_layer": "Weight layer",
        "activation": "Activation function",
        "conv1": "1×1 Conv",
        "conv3": "3×3 Conv",
        "conv7": "7×7 Conv",
        "batch_norm": "Batch norm",
        "relu": "ReLU",
        "max_pool": "3×3 Max pool",
        "residual_block": "Residual block",
        "module": "Module",
        "global_avg_pool": "Global avg pool",
        "fc": "Fully connected (FC)",
        "input": "Input",
        "output": "Output",
        "stride_note": "/2: halves height and width",
        "bn": "BN",
        "bn_relu": "BN, ReLU",
        "concat": "Concatenation",
        "grouped_conv": "3×3 Conv, $b$, $g$ groups",
        "groups": "$g$ groups",
        "optional": "(optional)",
        "input_channels": "$x$ ($c$ channels)",
    },
    "pt": {
        "nonnested_title": "Classes de funções não aninhadas",
        "nested_title": "Classes de funções aninhadas",
        "weight_layer": "Camada de pesos",
        "activation": "Função de ativação",
        "conv1": "Conv 1×1",
        "conv3": "Conv 3×3",
        "conv7": "Conv 7×7",
        "batch_norm": "Normalização em lote",
        "relu": "ReLU",
        "max_pool": "Pooling máximo 3×3",
        "residual_block": "Bloco residual",
        "module": "Módulo",
        "global_avg_pool": "Pooling médio global",
        "fc": "Totalmente conectada (FC)",
        "input": "Entrada",
        "output": "Saída",
        "stride_note": "/2: reduz altura e largura à metade",
        "bn": "BN",
        "bn_relu": "BN, ReLU",
        "concat": "Concatenação",
        "grouped_conv": "Conv 3×3, $b$, $g$ grupos",
        "groups": "$g$ grupos",
        "optional": "(opcional)",
        "input_channels": "$x$ ($c$ canais)",
    },
    "fr": {
        "nonnested_title": "Classes de fonctions non emboîtées",
        "nested_title": "Classes de fonctions emboîtées",
        "weight_layer": "Couche de poids",
        "activation": "Fonction d’activation",
        "conv1": "Conv 1×1",
        "conv3": "Conv 3×3",
        "conv7": "Conv 7×7",
        "batch_norm": "Normalisation par lots",
        "relu": "ReLU",
        "max_pool": "Agrégation max 3×3",
        "residual_block": "Bloc résiduel",
        "module": "Module",
        "global_avg_pool": "Agrégation moyenne globale",
        "fc": "Entièrement connectée (FC)",
        "input": "Entrée",
        "output": "Sortie",
        "stride_note": "/2 : divise hauteur et largeur par deux",
        "bn": "BN",
        "bn_relu": "BN, ReLU",
        "concat": "Concaténation",
        "grouped_conv": "Conv 3×3, $b$, $g$ groupes",
        "groups": "$g$ groupes",
        "optional": "(facultatif)",
        "input_channels": "$x$ ($c$ canaux)",
    },
})

#: Keys whose translation is, rightly, the English text: the name of a
#: function (ReLU), the usual abbreviation of batch normalization (BN), and
#: French "Module", spelled as in English.
SAME_AS_ENGLISH: dict[str, frozenset[str]] = {
    "pt": frozenset({"relu", "bn", "bn_relu"}),
    "fr": frozenset({"relu", "bn", "bn_relu", "module"}),
}

# Mathematical notation: the same in every language.
_FX = "$f(x)$"
_FX_MINUS_X = "$f(x) - x$"
_X = "$x$"
_F_STAR = "$f^*$"

# ---------------------------------------------------------------------------
# Text: markup, metrics, rendering
# ---------------------------------------------------------------------------

FONT_FAMILY = "DejaVu Sans, Arial, sans-serif"

# Boxes are sized from the advance widths of DejaVu Sans, read from the font files
# that matplotlib bundles; Arial is narrower, so text fits with either font.
@functools.cache
def _font(bold: bool) -> FT2Font:
    props = font_manager.FontProperties(family="DejaVu Sans",
                                        weight="bold" if bold else "normal")
    return FT2Font(font_manager.findfont(props, fallback_to_default=False))


_SUB_SCALE = 0.7  # size of sub- and superscripts relative to the text


def _math_runs(tex: str) -> list[tuple[str, str]]:
    """Runs ``(text, style)`` of the mathematics between two ``$``."""
    runs: list[tuple[str, str]] = []
    i = 0
    while i < len(tex):
        ch = tex[i]
        if ch in "_^" and i + 1 < len(tex):
            arg = tex[i + 1]
            if arg == "{":
                end = tex.index("}", i)
                arg, i = tex[i + 2 : end], end + 1
            else:
                i += 2
            runs.append((arg.replace("*", "∗"), "sub" if ch == "_" else "sup"))
            continue
        if ch == "x":
            runs.append((ch, "b"))
        elif ch.isalpha():
            runs.append((ch, "i"))
        else:
            runs.append(("−" if ch == "-" else ch, ""))
        i += 1
    return runs


def _runs(markup: str) -> list[tuple[str, str]]:
    """Split label markup into runs ``(text, style)``, style one of
    ``""`` (plain), ``"i"`` (italic), ``"b"`` (bold), ``"sub"``, ``"sup"``."""
    parts = markup.split("$")
    if len(parts) % 2 == 0:
        raise ValueError(f"unbalanced $ in label {markup!r}")
    runs: list[tuple[str, str]] = []
    for k, part in enumerate(parts):
        runs.extend(_math_runs(part) if k % 2 else [(part, "")])
    merged: list[tuple[str, str]] = []
    for text, style in runs:
        if not text:
            continue
        if merged and merged[-1][1] == style:
            merged[-1] = (merged[-1][0] + text, style)
        else:
            merged.append((text, style))
    return merged


def plain_text(markup: str) -> str:
    """The characters a reader sees for a label written in label markup."""
    return "".join(text for text, _ in _runs(markup))


@functools.cache
def _char_width(ch: str, bold: bool) -> int:
    """Advance width of ``ch`` in thousandths of an em (italic has the upright's)."""
    font = _font(bold)
    if not font.get_char_index(ord(ch)):
        raise ValueError(f"DejaVu Sans has no glyph for {ch!r} (U+{ord(ch):04X}); a label "
                         f"may use only characters it has, or browsers draw another font")
    glyph = font.load_char(ord(ch), flags=LoadFlags.NO_SCALE)
    return round(glyph.horiAdvance * 1000 / font.units_per_EM)


def text_width(markup: str, size: float, bold: bool = False) -> float:
    """Width in px of a label drawn at font size ``size`` (DejaVu Sans)."""
    total = 0.0
    for text, style in _runs(markup):
        scale = _SUB_SCALE if style in ("sub", "sup") else 1.0
        is_bold = bold or style == "b"
        total += scale * sum(_char_width(ch, is_bold) for ch in text)
    return total * size / 1000


def _num(v: float) -> str:
    """A coordinate, with at most two decimals and no trailing zeros."""
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _tspans(markup: str, size: float) -> str:
    """The content of a ``<text>`` element: text and ``<tspan>`` children.

    Sub- and superscripts are shifted with ``dy`` (and shifted back after),
    which every SVG renderer supports, unlike ``baseline-shift``.
    """
    shifts = {"sub": 0.22 * size, "sup": -0.42 * size}
    out: list[str] = []
    shift = 0.0
    for text, style in _runs(markup):
        attrs: list[str] = []
        target = shifts.get(style, 0.0)
        if target != shift:
            attrs.append(f'dy="{_num(target - shift)}"')
            shift = target
        if style == "i":
            attrs.append('font-style="italic"')
        elif style == "b":
            attrs.append('font-weight="bold"')
        elif style in shifts:
            attrs.append(f'font-size="{_num(_SUB_SCALE * size)}"')
        body = escape(text)
        out.append(f"<tspan {' '.join(attrs)}>{body}</tspan>" if attrs else body)
    return "".join(out)


# ---------------------------------------------------------------------------
# Drawing helpers
# ---------------------------------------------------------------------------

INK = "#222222"
ARROW = "#4d4d4d"
MUTED = "#666666"

#: Fill and stroke of each kind of box.
STYLES = {
    "weight": ("#dce7f3", "#4f7399"),
    "conv": ("#dce7f3", "#4f7399"),
    "norm": ("#f5e9cf", "#a7853f"),
    "act": ("#deeddb", "#58895c"),
    "pool": ("#e8e2f1", "#786797"),
    "fc": ("#f4e0df", "#9d5c5a"),
    "plain": ("#f2f2f2", "#7a7a7a"),
}

FS = 14  # font size of box labels
MATH_FS = 16  # font size of free-standing formulas
PAD = 12  # horizontal padding between a label and its box
STROKE = 1.5  # width of arrows and lines


@dataclass(frozen=True)
class Box:
    """Geometry of a drawn box, to attach arrows to."""

    cx: float
    cy: float
    w: float
    h: float

    @property
    def top(self) -> float:
        return self.cy - self.h / 2

    @property
    def bottom(self) -> float:
        return self.cy + self.h / 2

    @property
    def left(self) -> float:
        return self.cx - self.w / 2

    @property
    def right(self) -> float:
        return self.cx + self.w / 2


class Canvas:
    """Accumulates SVG elements; :meth:`svg` wraps them into a document."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.marker = f"{name}-arrowhead"
        self.items: list[str] = []
        self.uses_marker = False

    def add(self, element: str) -> None:
        self.items.append(element)

    def svg(self, width: float, height: float) -> str:
        w, h = _num(math.ceil(width)), _num(math.ceil(height))
        # Arrowhead: 10 units long drawn at 0.9 px per unit (stroke width 1.5);
        # arrows end 2.7 px short of their target (see arrow()), so refX = 6
        # puts the tip on the target and hides the blunt end of the line.
        head = (
            f'<marker id="{self.marker}" viewBox="0 0 10 10" refX="6" refY="5" '
            f'markerWidth="6" markerHeight="6" orient="auto">'
            f'<path d="M0,1 L9,5 L0,9 z" fill="{ARROW}"/></marker>'
        )
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            (
                f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
                f'viewBox="0 0 {w} {h}" font-family="{FONT_FAMILY}" fill="{INK}">'
            ),
            *([f"<defs>{head}</defs>"] if self.uses_marker else []),
            f'<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>',
            *self.items,
            "</svg>",
        ]
        return "\n".join(lines) + "\n"


def text(
    c: Canvas,
    x: float,
    y: float,
    markup: str,
    size: float = FS,
    anchor: str = "middle",
    bold: bool = False,
    fill: str | None = None,
) -> None:
    """Draw a label whose vertical centre is at ``y``."""
    attrs = [f'x="{_num(x)}"', f'y="{_num(y + 0.36 * size)}"', f'font-size="{_num(size)}"']
    if anchor != "start":
        attrs.append(f'text-anchor="{anchor}"')
    if bold:
        attrs.append('font-weight="bold"')
    if fill:
        attrs.append(f'fill="{fill}"')
    c.add(f"<text {' '.join(attrs)}>{_tspans(markup, size)}</text>")


def fit(*labels: str, size: float = FS, pad: float = PAD, min_w: float = 0.0) -> float:
    """Width of a box that holds the widest of ``labels`` (rounded up to 2 px)."""
    widest = max(text_width(label, size) for label in labels)
    return max(min_w, 2 * math.ceil((widest + 2 * pad) / 2))


def box(
    c: Canvas,
    cx: float,
    cy: float,
    w: float,
    h: float,
    lines: str | Sequence[str],
    style: str = "conv",
    size: float = FS,
    dashed: bool = False,
) -> Box:
    """A rounded box centred at ``(cx, cy)`` with one or more centred lines."""
    fill, stroke = STYLES[style]
    dash = ' stroke-dasharray="5 3"' if dashed else ""
    c.add(
        f'<rect x="{_num(cx - w / 2)}" y="{_num(cy - h / 2)}" width="{_num(w)}" '
        f'height="{_num(h)}" rx="5" fill="{fill}" stroke="{stroke}" stroke-width="1.3"{dash}/>'
    )
    lines = [lines] if isinstance(lines, str) else list(lines)
    step = 1.25 * size
    for k, line in enumerate(lines):
        text(c, cx, cy + (k - (len(lines) - 1) / 2) * step, line, size)
    return Box(cx, cy, w, h)


def group(c: Canvas, x0: float, y0: float, x1: float, y1: float) -> None:
    """A dashed frame around a group of boxes."""
    c.add(
        f'<rect x="{_num(x0)}" y="{_num(y0)}" width="{_num(x1 - x0)}" '
        f'height="{_num(y1 - y0)}" rx="8" fill="none" stroke="#8a8a8a" '
        f'stroke-width="1.3" stroke-dasharray="6 4"/>'
    )


def _path_d(points: Sequence[tuple[float, float]]) -> str:
    head, *rest = points
    return f"M{_num(head[0])},{_num(head[1])}" + "".join(f" L{_num(x)},{_num(y)}" for x, y in rest)


def line(c: Canvas, *points: tuple[float, float]) -> None:
    """A polyline without arrowhead."""
    c.add(
        f'<path d="{_path_d(points)}" fill="none" stroke="{ARROW}" '
        f'stroke-width="{STROKE}" stroke-linejoin="round"/>'
    )


def arrow(c: Canvas, *points: tuple[float, float]) -> None:
    """A polyline whose arrowhead tip lies exactly on the last point."""
    c.uses_marker = True
    pts = list(points)
    (x0, y0), (x1, y1) = pts[-2], pts[-1]
    length = math.hypot(x1 - x0, y1 - y0)
    shorten = 2.7 if length > 2.7 else 0.0
    pts[-1] = (x1 - (x1 - x0) * shorten / length, y1 - (y1 - y0) * shorten / length)
    c.add(
        f'<path d="{_path_d(pts)}" fill="none" stroke="{ARROW}" stroke-width="{STROKE}" '
        f'stroke-linejoin="round" marker-end="url(#{c.marker})"/>'
    )


def dot(c: Canvas, x: float, y: float) -> None:
    """A junction where a path branches."""
    c.add(f'<circle cx="{_num(x)}" cy="{_num(y)}" r="3" fill="{ARROW}"/>')


def plus(c: Canvas, cx: float, cy: float, r: float = 11) -> Box:
    """The addition node of a residual connection."""
    k = 0.55 * r
    c.add(
        f'<circle cx="{_num(cx)}" cy="{_num(cy)}" r="{_num(r)}" fill="#ffffff" '
        f'stroke="{ARROW}" stroke-width="{STROKE}"/>'
    )
    line(c, (cx - k, cy), (cx + k, cy))
    line(c, (cx, cy - k), (cx, cy + k))
    return Box(cx, cy, 2 * r, 2 * r)


def star(c: Canvas, cx: float, cy: float, r: float = 9, fill: str = "#b8473c") -> None:
    """A five-pointed star (the truth function f*)."""
    pts = []
    for k in range(10):
        rad = r if k % 2 == 0 else 0.42 * r
        ang = -math.pi / 2 + k * math.pi / 5
        pts.append((cx + rad * math.cos(ang), cy + rad * math.sin(ang)))
    c.add(f'<path d="{_path_d(pts)} Z" fill="{fill}" stroke="#7d2a22" stroke-width="0.8"/>')


def ellipse(
    c: Canvas, cx: float, cy: float, rx: float, ry: float, colour: str, fill_opacity: float
) -> None:
    c.add(
        f'<ellipse cx="{_num(cx)}" cy="{_num(cy)}" rx="{_num(rx)}" ry="{_num(ry)}" '
        f'fill="{colour}" fill-opacity="{_num(fill_opacity)}" stroke="{colour}" '
        f'stroke-width="1.6"/>'
    )


# ---------------------------------------------------------------------------
# Figure 1: function classes
# ---------------------------------------------------------------------------

#: Colours of the function classes F1 ... F6 (muted, from small to large).
CLASS_COLOURS = ("#4f7fb0", "#3f9a8c", "#6f9a45", "#b08a2e", "#b0623e", "#8a5a9e")


def functionclasses(labels: dict[str, str]) -> str:
    """Non-nested (left) and nested (right) function classes and the truth f*."""
    c = Canvas("functionclasses")
    art_w, panel_h, title_h, gap = 330.0, 250.0, 36.0, 40.0
    titles = (labels["nonnested_title"], labels["nested_title"])
    panel_w = max(art_w, *(text_width(t, 15, bold=True) + 10 for t in titles))
    left = 10 + (panel_w - art_w) / 2  # origin of the drawing of each panel
    right = left + panel_w + gap
    for x0, title in zip((left, right), titles):
        text(c, x0 + art_w / 2, 18, title, size=15, bold=True)

    # Left: classes that grow but drift, first toward f*, then away from it.
    # Labels sit just outside their ellipse, in its colour.
    oy = title_h
    classes = [  # (cx, cy, rx, ry, angle of the label, clockwise from east)
        (48, 178, 24, 19, 180),
        (82, 142, 36, 27, 195),
        (136, 104, 50, 36, 215),
        (196, 136, 62, 44, 320),
        (222, 170, 76, 52, 350),
        (212, 196, 92, 56, 145),
    ]
    for i, (cx, cy, rx, ry, _) in enumerate(classes):
        ellipse(c, left + cx, oy + cy, rx, ry, CLASS_COLOURS[i], 0.08)
    for i, (cx, cy, rx, ry, ang) in enumerate(classes):
        a = math.radians(ang)
        lx = left + cx + (rx + 12) * math.cos(a)
        ly = oy + cy + (ry + 10) * math.sin(a)
        text(c, lx, ly, f"$F_{i + 1}$", size=MATH_FS, fill=CLASS_COLOURS[i])
    sx, sy = left + 190, oy + 30
    star(c, sx, sy)
    text(c, sx + 12, sy - 4, _F_STAR, size=MATH_FS, anchor="start")

    # Right: nested classes F1 ⊆ ... ⊆ F6, images of one ellipse under
    # homotheties centred on a point P of its boundary, so that each contains
    # the previous one; they grow toward f*.
    t = math.radians(145)  # P, seen from the centre of the ellipse (y down)
    ax, ay = 1.25, 1.0
    scales = (18, 32, 48, 66, 86, 108)
    ux, uy = -ax * math.cos(t), -ay * math.sin(t)  # from P to the centre, per unit scale
    big = scales[-1]
    # Place P so that the largest ellipse fills the panel.
    px = right + 8 + big * ax - big * ux
    py = oy + panel_h - 6 - big * ay - big * uy
    for i, s in reversed(list(enumerate(scales))):
        ellipse(c, px + s * ux, py + s * uy, s * ax, s * ay, CLASS_COLOURS[i], 0.08)
    prev = 0.0
    for i, s in enumerate(scales):
        k = prev + s if i else s  # the middle of each ring on the diameter through P
        text(c, px + k * ux, py + k * uy, f"$F_{i + 1}$", size=MATH_FS, fill=CLASS_COLOURS[i])
        prev = s
    # f* between F5 and F6, on a ray from P steeper than that diameter.
    dx, dy = math.cos(math.radians(-66)), math.sin(math.radians(-66))
    lam = -2 * (math.cos(t) * dx / ax + math.sin(t) * dy / ay) / (dx**2 / ax**2 + dy**2 / ay**2)
    k = lam * (scales[-2] + scales[-1]) / 2
    sx, sy = px + k * dx, py + k * dy
    star(c, sx, sy)
    text(c, sx + 12, sy - 4, _F_STAR, size=MATH_FS, anchor="start")
    return c.svg(right + art_w + (panel_w - art_w) / 2 + 10, oy + panel_h + 8)


# ---------------------------------------------------------------------------
# Figure 2: regular block and residual block
# ---------------------------------------------------------------------------


def residual_block(labels: dict[str, str]) -> str:
    """A regular block (left) learns f(x); a residual block (right) learns f(x) − x."""
    c = Canvas("residual-block")
    h, gap, r = 34.0, 22.0, 11.0
    bw = fit(labels["weight_layer"], labels["activation"], min_w=150)
    dash_pad = 14.0
    dw = bw + 2 * dash_pad
    room = text_width(_FX_MINUS_X, MATH_FS) + 18  # formulas left of the arrows
    lane = 30.0  # shortcut, right of the dashed box

    y_act = 12 + 24 + h / 2
    y_plus = y_act + h / 2 + 28 + r
    dash_top = y_plus + r + 40
    y_w2 = dash_top + dash_pad + h / 2
    y_mid = y_w2 + h + gap
    y_w1 = y_mid + h + gap
    dash_bottom = y_w1 + h / 2 + dash_pad
    y_dot = dash_bottom + 20
    y_x = y_dot + 22

    def stack(cx: float) -> tuple[Box, Box, Box]:
        group(c, cx - dw / 2, dash_top, cx + dw / 2, dash_bottom)
        w1 = box(c, cx, y_w1, bw, h, labels["weight_layer"], "weight")
        mid = box(c, cx, y_mid, bw, h, labels["activation"], "act")
        w2 = box(c, cx, y_w2, bw, h, labels["weight_layer"], "weight")
        act = box(c, cx, y_act, bw, h, labels["activation"], "act")
        text(c, cx, y_x, _X, size=MATH_FS)
        arrow(c, (cx, y_x - 11), (cx, w1.bottom))
        arrow(c, (cx, w1.top), (cx, mid.bottom))
        arrow(c, (cx, mid.top), (cx, w2.bottom))
        arrow(c, (cx, act.top), (cx, 10))
        return w2, act, Box(cx, 0, 0, 0)

    y_label = (dash_top + y_plus + r) / 2

    # Left: the dashed part must learn f(x) itself.
    cx = 10 + room + dw / 2
    w2, act, _ = stack(cx)
    arrow(c, (cx, w2.top), (cx, act.bottom))
    text(c, cx - 8, y_label, _FX, size=MATH_FS, anchor="end")

    # Right: the dashed part learns f(x) − x; the shortcut adds x back.
    cx = cx + dw / 2 + lane + 36 + room + dw / 2
    w2, act, _ = stack(cx)
    p = plus(c, cx, y_plus, r)
    arrow(c, (cx, w2.top), (cx, p.bottom))
    arrow(c, (cx, p.top), (cx, act.bottom))
    text(c, cx - 8, y_label, _FX_MINUS_X, size=MATH_FS, anchor="end")
    text(c, cx - 8, (p.top + act.bottom) / 2, _FX, size=MATH_FS, anchor="end")
    x_lane = cx + dw / 2 + lane
    dot(c, cx, y_dot)
    arrow(c, (cx, y_dot), (x_lane, y_dot), (x_lane, y_plus), (p.right, y_plus))
    return c.svg(x_lane + 14, y_x + 16)


# ---------------------------------------------------------------------------
# Figure 3: ResNet block, with and without 1×1 convolution on the shortcut
# ---------------------------------------------------------------------------


def resnet_block(labels: dict[str, str]) -> str:
    """The ResNet basic block; on the right, a 1×1 convolution on the shortcut."""
    c = Canvas("resnet-block")
    h, gap, r = 30.0, 18.0, 11.0
    names = (
        (labels["conv3"], "conv"),
        (labels["batch_norm"], "norm"),
        (labels["relu"], "act"),
        (labels["conv3"], "conv"),
        (labels["batch_norm"], "norm"),
    )
    bw = fit(*(n for n, _ in names), min_w=120)
    sw = fit(labels["conv1"])

    y_relu = 10 + 22 + h / 2
    y_plus = y_relu + h / 2 + 20 + r
    first = y_plus + r + 20 + h / 2  # centre of the top batch norm
    ys = [first + k * (h + gap) for k in range(len(names))][::-1]  # bottom to top
    y_dot = ys[0] + h / 2 + 18
    y_x = y_dot + 22

    def variant(cx: float, x_lane: float, conv1: bool) -> None:
        text(c, cx, y_x, _X, size=MATH_FS)
        prev = y_x - 11
        for (name, style), y in zip(names, ys):
            b = box(c, cx, y, bw, h, name, style)
            arrow(c, (cx, prev), (cx, b.bottom))
            prev = b.top
        p = plus(c, cx, y_plus, r)
        arrow(c, (cx, prev), (cx, p.bottom))
        relu = box(c, cx, y_relu, bw, h, labels["relu"], "act")
        arrow(c, (cx, p.top), (cx, relu.bottom))
        arrow(c, (cx, relu.top), (cx, 8))
        dot(c, cx, y_dot)
        if conv1:
            y_side = (ys[0] + ys[-1]) / 2
            side = box(c, x_lane, y_side, sw, h, labels["conv1"], "conv")
            arrow(c, (cx, y_dot), (x_lane, y_dot), (x_lane, side.bottom))
            arrow(c, (x_lane, side.top), (x_lane, y_plus), (p.right, y_plus))
        else:
            arrow(c, (cx, y_dot), (x_lane, y_dot), (x_lane, y_plus), (p.right, y_plus))

    cx1 = 14 + bw / 2
    lane1 = cx1 + bw / 2 + 30
    cx2 = lane1 + 56 + bw / 2
    lane2 = cx2 + bw / 2 + 24 + sw / 2
    variant(cx1, lane1, conv1=False)
    variant(cx2, lane2, conv1=True)
    return c.svg(lane2 + sw / 2 + 12, y_x + 16)


# ---------------------------------------------------------------------------
# Figure 4: ResNet-18
# ---------------------------------------------------------------------------


def resnet18(labels: dict[str, str]) -> str:
    """ResNet-18, input at the bottom: stem, four modules of two blocks, head."""
    c = Canvas("resnet18")
    h, gap, gpad = 28.0, 16.0, 8.0
    block = labels["residual_block"]
    stem = [
        (f"{labels['conv7']}, 64, /2", "conv"),
        (labels["batch_norm"], "norm"),
        (labels["relu"], "act"),
        (f"{labels['max_pool']}, /2", "pool"),
    ]
    modules = []
    for m, ch in enumerate((64, 128, 256, 512)):
        first = f"{block}, {ch}, /2" if m else f"{block}, {ch}"
        modules.append((f"{labels['module']} {m + 1}", [first, f"{block}, {ch}"]))
    head = [(labels["global_avg_pool"], "pool"), (labels["fc"], "fc")]
    all_names = [n for n, _ in stem + head] + [b for _, bs in modules for b in bs]
    bw = fit(*all_names, min_w=180)
    module_w = max(text_width(name, 13) for name, _ in modules)
    note_w = text_width(labels["stride_note"], 12.5)
    width = max(14 + gpad + bw + gpad + 10 + module_w + 14, note_w + 28)
    cx = 14 + gpad + bw / 2 if width > note_w + 28 else (width - module_w - 10) / 2

    # Lay out from the top (output) down to the input.
    y = 10.0
    text(c, cx, y + 8, labels["output"])
    prev_bottom = y + 16
    boxes_top_down: list[Box] = []

    def add_box(name: str, style: str, extra_gap: float = 0.0) -> Box:
        nonlocal prev_bottom
        b = box(c, cx, prev_bottom + gap + extra_gap + h / 2, bw, h, name, style)
        boxes_top_down.append(b)
        prev_bottom = b.bottom
        return b

    for name, style in reversed(head):
        add_box(name, style)
    for name, blocks in reversed(modules):
        first = add_box(blocks[1], "weight", gpad)
        last = add_box(blocks[0], "weight")
        prev_bottom += gpad
        x0, x1 = cx - bw / 2 - gpad, cx + bw / 2 + gpad
        group(c, x0, first.top - gpad, x1, last.bottom + gpad)
        text(c, x1 + 8, (first.top + last.bottom) / 2, name, size=13, anchor="start", fill=MUTED)
    for name, style in reversed(stem):
        add_box(name, style)
    y_in = prev_bottom + gap + 8
    text(c, cx, y_in, labels["input"])

    # Arrows, bottom to top; the dashed module frames sit between some boxes.
    order = boxes_top_down[::-1]
    arrow(c, (cx, y_in - 9), (cx, order[0].bottom))
    for lower, upper in itertools.pairwise(order):
        arrow(c, (cx, lower.top), (cx, upper.bottom))
    arrow(c, (cx, order[-1].top), (cx, 10 + 17))

    y_note = y_in + 26
    text(c, width / 2, y_note, labels["stride_note"], size=12.5, fill=MUTED)
    return c.svg(width, y_note + 14)


# ---------------------------------------------------------------------------
# Figure 5: ResNeXt block
# ---------------------------------------------------------------------------


def resnext_block(labels: dict[str, str]) -> str:
    """ResNeXt block: in detail (left) and as three boxes (right)."""
    c = Canvas("resnext-block")
    h, gap, r = 30.0, 18.0, 11.0
    conv1_b = f"{labels['conv1']}, $b$"
    conv1_c = f"{labels['conv1']}, $c$"
    bw = fit(conv1_b, conv1_c, labels["bn_relu"], labels["concat"], labels["relu"], min_w=140)
    branch_h = 40.0
    branch_w = fit(labels["conv3"], "$b/g$", size=13, pad=8)
    gap_12, gap_dots = 12.0, 34.0
    row_w = 3 * branch_w + gap_12 + gap_dots
    groups_w = text_width(labels["groups"], 13)
    side_w = fit(conv1_c, labels["bn"], size=13, pad=10)
    col_w = max(bw, row_w)

    cx = 14 + col_w / 2
    # The shortcut runs right of the branches and of their "g groups" note.
    x_lane = max(cx + col_w / 2 + 26 + side_w / 2, cx + row_w / 2 + 10 + groups_w + 18)

    # From the top (output) down to the input.
    y_relu = 10 + 22 + h / 2
    y_plus = y_relu + h / 2 + 20 + r
    y_bn3 = y_plus + r + 20 + h / 2
    y_conv_c = y_bn3 + h + gap
    y_bnr2 = y_conv_c + h + gap
    y_concat = y_bnr2 + h + gap
    y_merge = y_concat + h / 2 + 16
    y_branch = y_merge + 12 + branch_h / 2
    y_split = y_branch + branch_h / 2 + 16
    y_bnr1 = y_split + 12 + h / 2
    y_conv_b = y_bnr1 + h + gap
    y_dot = y_conv_b + h / 2 + 18
    y_x = y_dot + 22

    relu = box(c, cx, y_relu, bw, h, labels["relu"], "act")
    arrow(c, (cx, relu.top), (cx, 8))
    p = plus(c, cx, y_plus, r)
    arrow(c, (cx, p.top), (cx, relu.bottom))
    bn3 = box(c, cx, y_bn3, bw, h, labels["bn"], "norm")
    arrow(c, (cx, bn3.top), (cx, p.bottom))
    conv_c = box(c, cx, y_conv_c, bw, h, conv1_c, "conv")
    arrow(c, (cx, conv_c.top), (cx, bn3.bottom))
    bnr2 = box(c, cx, y_bnr2, bw, h, labels["bn_relu"], "norm")
    arrow(c, (cx, bnr2.top), (cx, conv_c.bottom))
    concat = box(c, cx, y_concat, bw, h, labels["concat"], "plain")
    arrow(c, (cx, concat.top), (cx, bnr2.bottom))

    # g parallel branches of b/g channels each: three drawn, "…" for the rest.
    x_first = cx - row_w / 2 + branch_w / 2
    xs = [x_first, x_first + branch_w + gap_12, x_first + 2 * branch_w + gap_12 + gap_dots]
    for bx in xs:
        box(c, bx, y_branch, branch_w, branch_h, [labels["conv3"], "$b/g$"], "conv", size=13)
        line(c, (bx, y_branch - branch_h / 2), (bx, y_merge))
        arrow(c, (bx, y_split), (bx, y_branch + branch_h / 2))
    text(c, (xs[1] + xs[2]) / 2, y_branch, "…", size=16)
    line(c, (xs[0], y_merge), (xs[-1], y_merge))
    line(c, (xs[0], y_split), (xs[-1], y_split))
    arrow(c, (cx, y_merge), (cx, concat.bottom))
    text(
        c,
        xs[-1] + branch_w / 2 + 10,
        y_branch,
        labels["groups"],
        size=13,
        anchor="start",
        fill=MUTED,
    )

    bnr1 = box(c, cx, y_bnr1, bw, h, labels["bn_relu"], "norm")
    line(c, (cx, bnr1.top), (cx, y_split))
    conv_b = box(c, cx, y_conv_b, bw, h, conv1_b, "conv")
    arrow(c, (cx, conv_b.top), (cx, bnr1.bottom))
    text(c, cx, y_x, labels["input_channels"], size=MATH_FS)
    arrow(c, (cx, y_x - 11), (cx, conv_b.bottom))

    # Shortcut, optionally through a 1×1 convolution and batch norm.
    dot(c, cx, y_dot)
    y_side = (y_conv_c + y_bnr2) / 2
    s_conv = box(c, x_lane, y_side + 22, side_w, h, conv1_c, "conv", size=13, dashed=True)
    s_bn = box(c, x_lane, y_side - 22, side_w, h, labels["bn"], "norm", size=13, dashed=True)
    text(c, x_lane - side_w / 2 - 8, y_side, labels["optional"], size=13, anchor="end", fill=MUTED)
    arrow(c, (cx, y_dot), (x_lane, y_dot), (x_lane, s_conv.bottom))
    arrow(c, (x_lane, s_conv.top), (x_lane, s_bn.bottom))
    arrow(c, (x_lane, s_bn.top), (x_lane, y_plus), (p.right, y_plus))

    # Right: the same block as three boxes.
    cw = fit(conv1_b, labels["grouped_conv"], conv1_c, min_w=120)
    cx2 = x_lane + side_w / 2 + 40 + cw / 2
    lane2 = cx2 + cw / 2 + 28
    ch = 34.0
    y2_x = y_x
    y2_dot = y_dot
    y2 = [y2_dot - 30 - ch / 2 - k * (ch + 24) for k in range(3)]
    y2_plus = y2[-1] - ch / 2 - 24 - r
    text(c, cx2, y2_x, labels["input_channels"], size=MATH_FS)
    prev = y2_x - 11
    for name, y in zip((conv1_b, labels["grouped_conv"], conv1_c), y2):
        b = box(c, cx2, y, cw, ch, name, "conv")
        arrow(c, (cx2, prev), (cx2, b.bottom))
        prev = b.top
    p2 = plus(c, cx2, y2_plus, r)
    arrow(c, (cx2, prev), (cx2, p2.bottom))
    arrow(c, (cx2, p2.top), (cx2, p2.top - 40))
    dot(c, cx2, y2_dot)
    arrow(c, (cx2, y2_dot), (lane2, y2_dot), (lane2, y2_plus), (p2.right, y2_plus))
    width = max(lane2 + 14, cx2 + text_width(labels["input_channels"], MATH_FS) / 2 + 12)
    return c.svg(width, y_x + 16)


# ---------------------------------------------------------------------------
# Registry, rendering, files
# ---------------------------------------------------------------------------

FIGURES: dict[str, Callable[[dict[str, str]], str]] = {
    "functionclasses": functionclasses,
    "residual-block": residual_block,
    "resnet-block": resnet_block,
    "resnet18": resnet18,
    "resnext-block": resnext_block,
}


def render(name: str, lang: str = "en") -> str:
    """The SVG text of figure ``name`` with the labels of language ``lang``."""
    if name not in FIGURES:
        raise KeyError(f"unknown figure {name!r}; known: {', '.join(FIGURES)}")
    return FIGURES[name](LABELS[lang])  # LABELS names the languages it knows


def _targets(out_dir: str | Path, langs: Iterable[str]) -> list[tuple[Path, str, str]]:
    root = Path(out_dir)
    return [(root / lang / f"{name}.svg", name, lang) for lang in langs for name in FIGURES]


def write_all(out_dir: str | Path = "book/img", langs: Sequence[str] = LANGS) -> list[Path]:
    """Write ``<out_dir>/<lang>/<name>.svg`` for every figure and language.

    A file is rewritten only when its content changed; returns the paths of
    the files written.
    """
    written = []
    for path, name, lang in _targets(out_dir, langs):
        svg = render(name, lang)
        if path.is_file() and path.read_text(encoding="utf-8") == svg:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(svg, encoding="utf-8", newline="\n")
        written.append(path)
    return written


def check_all(out_dir: str | Path = "book/img", langs: Sequence[str] = LANGS) -> list[str]:
    """Paths of the figure files that are missing or differ from :func:`render`."""
    stale = []
    for path, name, lang in _targets(out_dir, langs):
        if not path.is_file() or path.read_text(encoding="utf-8") != render(name, lang):
            stale.append(str(path))
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/figures.py",
        description="Regenerate the book's SVG figures (book/img/<lang>/<name>.svg).",
    )
    parser.add_argument("--out-dir", default="book/img", help="default: %(default)s")
    parser.add_argument(
        "--lang", action="append", choices=LANGS, help="only this language (repeatable)"
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is stale"
    )
    args = parser.parse_args(argv)
    langs = tuple(args.lang) if args.lang else LANGS
    if args.check:
        stale = check_all(args.out_dir, langs)
        for path in stale:
            print(f"stale: {path}")
        if stale:
            print("run `python tools/figures.py` to regenerate them", file=sys.stderr)
        return 1 if stale else 0
    for path in write_all(args.out_dir, langs):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
