"""Parity of the three editions, checked by code: same pages, sections, code, equations,
figures, citations and exercises; unique labels; no English prose left in PT or FR."""

import ast
import io
import re
import tokenize
from collections import Counter
from pathlib import Path

import jupytext
import pytest

from d2l_resnet.registry import LANGUAGES

BOOK = Path(__file__).resolve().parents[1] / "book"
LANGS = tuple(LANGUAGES)
OTHERS = LANGS[1:]  # every edition but the English one
PAGES = sorted(p.name for p in (BOOK / "en").glob("*.md"))


def read(lang, name):
    return (BOOK / lang / name).read_text()


def headings(text):
    body = re.sub(r"```.*?```", "", text, flags=re.S)
    return [len(m) for m in re.findall(r"^(#{1,6}) ", body, re.M)]


def display_equations(text):
    """Display equations, with the words inside \\textrm{} blanked: they follow the
    page's language ("subject to", "sujeito a", "sous la contrainte")."""
    return [re.sub(r"\\textrm\{[^{}]*\}", r"\\textrm{}", m.strip())
            for m in re.findall(r"^\$\$\n?(.*?)\n?\$\$", text, re.M | re.S)]


def figures(text):
    return [Path(p).name for p in re.findall(r":::\{figure\} (\S+)", text)]


def citations(text):
    return [k.strip() for group in re.findall(r"\{footcite(?::[pt])?\}`([^`]+)`", text)
            for k in group.split(",")]


def labels(text, lang):
    found = re.findall(r"^\(([\w-]+)\)=$", text, re.M)
    found += re.findall(r"^:name: ([\w-]+)$", text, re.M)
    found += re.findall(r"^\$\$ \(([\w-]+)\)$", text, re.M)
    return found


def references(text):
    return re.findall(r"\{(?:numref|ref|eq)\}`(?:[^`<]*<)?([\w-]+)>?`", text)


def admonitions(text):
    """The class of every admonition box (``:::{admonition}``), in page order."""
    return re.findall(r"^:::\{admonition\}[^\n]*\n:class: ([^\n]+)$", text, re.M)


def exercises(text):
    part = re.split(r"^\(sec-exercises\)=$", text, flags=re.M)
    if len(part) < 2:
        return 0
    section = re.split(r"^## ", part[1], flags=re.M)[1]
    return len(re.findall(r"^\d+\. ", section, re.M))


def code_shape(source):
    """Tokens of a cell with comments dropped and string literals blanked.

    Layout that depends on how long a translated string is does not count: the
    formatter's trailing comma before a closing bracket (added when the call no
    longer fits on one line) and a string literal written as several pieces.
    """
    lines = [line for line in source.splitlines() if not line.lstrip().startswith("%")]
    tokens = []
    for tok in tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                        tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        token = "STR" if tok.type == tokenize.STRING else tok.string
        if token == "STR" and tokens[-1:] == ["STR"]:
            continue
        if token in ")]}" and tokens[-1:] == [","]:
            tokens.pop()
        tokens.append(token)
    return tokens


def code_cells(lang, name):
    nb = jupytext.read(BOOK / lang / name)
    return [(tuple(c.metadata.get("tags", [])), c.source) for c in nb.cells
            if c.cell_type == "code"]


def test_same_pages_in_every_language():
    for lang in OTHERS:
        assert sorted(p.name for p in (BOOK / lang).glob("*.md")) == PAGES, lang


@pytest.mark.parametrize("lang", OTHERS)
@pytest.mark.parametrize("name", PAGES)
def test_page_structure_matches_english(lang, name):
    en, other = read("en", name), read(lang, name)
    assert headings(other) == headings(en), "sections differ"
    assert display_equations(other) == display_equations(en), "display equations differ"
    assert figures(other) == figures(en), "figures differ"
    assert Counter(citations(other)) == Counter(citations(en)), "citations differ"
    assert exercises(other) == exercises(en), "exercises differ"
    assert admonitions(other) == admonitions(en), "boxes (admonitions) differ"
    assert labels(other, lang) == labels(en, "en"), "labels differ (each edition is its " \
        "own site: the same label names in every language)"
    assert references(other) == references(en), "cross-references differ"
    for src in re.findall(r":::\{figure\} (\S+)", other):
        assert src.startswith(f"../img/{lang}/"), f"{src}: use the {lang} figure"


@pytest.mark.parametrize("lang", OTHERS)
@pytest.mark.parametrize("name", [p for p in PAGES if "kernelspec:" in read("en", p)[:500]])
def test_code_cells_match_english(lang, name):
    en, other = code_cells("en", name), code_cells(lang, name)
    assert [tags for tags, _ in other] == [tags for tags, _ in en], "cell tags differ"
    for (_, a), (_, b) in zip(en, other):
        assert code_shape(b) == code_shape(a), f"code differs:\n{b}"
    assert f'set_language("{lang}")' in other[0][1]


@pytest.mark.parametrize("lang", LANGS)
def test_labels_unique_within_each_edition(lang):
    all_labels = [label for name in PAGES for label in labels(read(lang, name), lang)]
    duplicates = [label for label, n in Counter(all_labels).items() if n > 1]
    assert duplicates == []


STOPWORDS = {
    "en": set("the of and to in is that we it for with this are as be by on not which an "
              "can its from our their what more than when each these they has have was "
              "only into but also would does".split()),
    "pt": set("de que e o a os as da do das dos em para com uma um não se por mais como "
              "ao na no nas nos é são pela pelo entre também cada sua seu isso essa esse "
              "ou quando".split()),
    "fr": set("de la le les et des du en un une est que qui pour dans par sur au aux "
              "ne pas plus ce cette ces son sa ses avec nous on il elle sont être mais "
              "ou où donc".split()),
}


def prose_paragraphs(text):
    text = re.sub(r"^---\n.*?\n---\n", "", text, flags=re.S)
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)
    for para in re.split(r"\n\s*\n", text):
        para = re.sub(r"^:::.*$|^:\w+:.*$|^\(.*\)=$|^\|.*\|$", "", para, flags=re.M)
        para = re.sub(r"\$[^$]*\$|`[^`]*`|\{\w+(:\w+)?\}|\[[^\]]*\]\([^)]*\)", " ", para)
        words = re.findall(r"[a-zA-ZÀ-ÿ']+", para.lower())
        if len(words) >= 8:
            yield para.strip(), words


@pytest.mark.parametrize("lang", OTHERS)
@pytest.mark.parametrize("name", PAGES)
def test_no_english_prose_left(lang, name):
    english = []
    for para, words in prose_paragraphs(read(lang, name)):
        score = {k: sum(w in v for w in words) for k, v in STOPWORDS.items()}
        if score["en"] > score[lang]:
            english.append(para[:80])
    assert english == [], f"paragraphs that read as English: {english}"


def test_language_check_catches_english():
    """The detector itself: an English paragraph in a PT page is flagged."""
    para = ("The residual block adds its input to the output of two convolutions, "
            "so it can learn the identity function easily.")
    (_, words), = prose_paragraphs(para)
    score = {k: sum(w in v for w in words) for k, v in STOPWORDS.items()}
    assert score["en"] > score["pt"] and score["en"] > score["fr"]


# Words in math that are notation, the same in every edition.
MATH_NOTATION = {"ReLU", "def", "FLOPs", "FLOP"}


@pytest.mark.parametrize("lang", OTHERS)
def test_no_english_words_in_the_math(lang):
    """The words of \\textrm{} in an equation follow the page's language: none of the
    English edition's (\\textrm{groups}, \\textrm{subject to}) is left on a PT or FR
    page. Subscripts (h, w, i, o) and notation are the same everywhere."""
    def words(lang, name):
        return {w for w in re.findall(r"\\textrm\{([^{}]*)\}", read(lang, name))
                if len(w) > 1 and w not in MATH_NOTATION}
    english = set().union(*(words("en", name) for name in PAGES))
    assert english, "the English edition has words in its math"
    left = {name: found for name in PAGES if (found := words(lang, name) & english)}
    assert left == {}, f"English words in {lang} math: {left}"


# Words that a PT or FR page prints as the English page does, because they are
# words of that language too.
SAME_WORD = {"fr": {"intact"}, "pt": set()}


def printed_text(source):
    """The literal text that a cell prints: the strings in its print() calls and
    its Table headers (f-strings give their literal parts)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a cell with IPython magic
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        if node.func.id == "print":
            args = node.args
        elif node.func.id == "Table" and node.args:
            args = node.args[:1]
        else:
            continue
        found += [s.value for a in args for s in ast.walk(a)
                  if isinstance(s, ast.Constant) and isinstance(s.value, str)]
    return found


@pytest.mark.parametrize("lang", OTHERS)
@pytest.mark.parametrize("name", [p for p in PAGES if "kernelspec:" in read("en", p)[:500]])
def test_what_a_page_prints_is_in_its_language(lang, name):
    """A PT or FR cell may not print the English page's words: a string that it
    prints word for word as the English cell does is English left in place (a
    resnet-model cell once printed "parameters" on all three editions)."""
    english = []
    for (_, en), (_, other) in zip(code_cells("en", name), code_cells(lang, name)):
        en_text = set(printed_text(en))
        for text in printed_text(other):
            words = set(re.findall(r"[a-z]{3,}", re.sub(r"\{[^}]*\}", "", text)))
            if text in en_text and words - SAME_WORD[lang]:
                english.append(text)
    assert english == [], f"printed as in English: {english}"


def test_printed_text_check_catches_english():
    cell = 'print(f"{name}: {number(params)} parameters")'
    assert printed_text(cell) == [": ", " parameters"]
