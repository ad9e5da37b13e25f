"""Sphinx extension: one Colab notebook per page and framework, from the page's doctree.

The book's source notebooks (book/<lang>/<page>.ipynb) hold MyST and all three
frameworks; Colab renders neither roles nor directives, and a reader who chose
PyTorch wants the PyTorch cells only. So the HTML build also writes, for every
executable page and every framework,

    <html outdir>/_notebooks/<framework>/<page>.ipynb

from the same resolved doctree that becomes the page's HTML: cross-references,
figure and equation numbers and citations come out as on the site, in the edition's
language. Each notebook holds

1. an install cell (first): installs the book's library from the repository named in
   ``_config.yml`` and sets the edition's language; JAX's also stops JAX from
   preallocating most of a GPU;
2. the page's title, the book's title and a link back to the page;
3. the page's prose as plain CommonMark with ``$...$`` math: links become absolute
   URLs of the published site, ``{eq}`` references their number, equations carry
   ``\\tag{n}``, citations read "(He et al., 2016)" with the reference list at the
   end, figures are images at the published site's URL with their numbered caption,
   admonitions are block quotes;
4. the page's code cells of that framework, copied with their stored outputs from the
   validated source notebook (nbval compares those outputs, so they must be the ones
   it validated, never a run of their own).

Why hand-written: a maintained Markdown writer (sphinx-markdown-builder) turns a
whole document into one Markdown file. A notebook needs the prose cut at the code
cells, the cells of one framework picked out of the sphinx-design tab sets, each code
cell's stored outputs from the source notebook, and links made absolute; what remains
is a small translator for the few node types the book's pages use (listed below). A
node type it does not know is reported as a Sphinx warning, so ``-W`` stops the
build instead of writing a notebook with a hole in it.

The Colab and download buttons of each page point to these notebooks (one entry per
framework; ``_static/framework_links.js`` shows only the one of the reader's tab).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlparse

import nbformat
from docutils import nodes
from framework_tabs import FRAMEWORKS, framework_of
from sphinx.locale import _, admonitionlabels
from sphinx.util import logging
from sphinx_design.tabs import sd_tab_input, sd_tab_label

logger = logging.getLogger(__name__)

OUT_DIR = "_notebooks"  # under the edition's HTML output: <site>/<lang>/_notebooks/...


# --- settings: each is one setting in _config.yml --------------------------------------


def repository(app) -> tuple[str, str]:
    """(URL, branch) of the book's repository: Jupyter Book's ``repository.url`` and
    ``repository.branch`` in _config.yml, which it hands to the theme's options."""
    opts = app.config.html_theme_options
    url = (opts.get("repository_url") or "").rstrip("/")
    if not url:
        raise ValueError("colab_notebooks: _config.yml has no repository.url; the install "
                         "cell and the Colab links are derived from it")
    return url, opts.get("repository_branch") or "main"


def install_requirement(app) -> str:
    """What the install cell gives pip: the library at the repository's branch."""
    url, branch = repository(app)
    return f"d2l-resnet @ git+{url}@{branch}"


def edition(app) -> str:
    return Path(app.srcdir).name


def page_url(app, docname: str) -> str:
    return f"{app.config.book_site_url.rstrip('/')}/{edition(app)}/{docname}.html"


def notebook_path(docname: str, fw: str) -> str:
    """Path of a derived notebook, relative to the edition's HTML root."""
    return f"{OUT_DIR}/{fw}/{docname}.ipynb"


def colab_url(app, docname: str, fw: str) -> str:
    """Colab opens notebooks from GitHub: the Pages workflow writes the derived
    notebooks to the branch ``book_notebooks_branch`` as <lang>/<framework>/<page>.ipynb."""
    url, _branch = repository(app)
    parts = urlparse(url).path.strip("/")
    colab = (app.config.html_theme_options.get("launch_buttons", {}).get("colab_url")
             or "https://colab.research.google.com").rstrip("/")
    return (f"{colab}/github/{parts}/blob/{app.config.book_notebooks_branch}/"
            f"{edition(app)}/{fw}/{docname}.ipynb")


# --- the doctree as Markdown ---------------------------------------------------------

ESCAPE = re.compile(r"([\\`*_\[\]<>$|])")


def escape(text: str) -> str:
    return ESCAPE.sub(r"\\\1", text)


@dataclass
class CodeCell:
    index: int  # the cell's index in the source notebook


class Markdown:
    """Turns one page's resolved doctree into Markdown chunks and code-cell markers,
    keeping the cells of one framework."""

    def __init__(self, app, docname: str, fw: str):
        self.app, self.docname, self.fw = app, docname, fw
        self.env = app.env
        self.base = page_url(app, docname)
        self.entries = app.env.get_domain("cite").bibdata.data.entries
        self.figure_format = app.config.numfig_format.get("figure", "Fig. %s")
        self.chunks: list[str | CodeCell] = []
        self.title = ""

    # Blocks ---------------------------------------------------------------------------

    def document(self, doctree: nodes.document) -> list[str | CodeCell]:
        for child in doctree.children:
            self.block(child, depth=0)
        return self.chunks

    def emit(self, text: str) -> None:
        if text.strip():
            self.chunks.append(text.rstrip())

    def block(self, node: nodes.Node, depth: int) -> None:
        if isinstance(node, nodes.section):
            title = node.next_node(nodes.title)
            text = self.inline_children(title)
            if depth == 0 and not self.title:
                self.title = text  # the notebook's own header cell shows it
            else:
                self.emit(f"{'#' * (depth + 1)} {text}")
            for child in node.children:
                if child is not title:
                    self.block(child, depth + 1)
        elif isinstance(node, nodes.container) and node.get("nb_element") == "cell_code":
            fw = framework_of(node)
            if fw is None or fw == self.fw:
                self.chunks.append(CodeCell(int(node["cell_index"])))
        elif isinstance(node, (sd_tab_input, sd_tab_label)) or (
                isinstance(node, nodes.rubric) and "sd-tab-label" in node["classes"]):
            pass  # a framework tab's radio button and label; a notebook has one framework
        elif isinstance(node, (nodes.target, nodes.comment, nodes.substitution_definition,
                               nodes.raw, nodes.compound)):
            pass  # labels, comments, toctrees: nothing a reader of the notebook sees
        elif isinstance(node, nodes.Admonition):
            self.emit(self.admonition(node))
        else:
            text = self.render_block(node)
            if text is None:
                for child in node.children:  # containers: tab sets, tab items
                    self.block(child, depth)
            else:
                self.emit(text)

    def render_block(self, node: nodes.Node) -> str | None:
        """Markdown of a block node, or None for a container to walk into."""
        if isinstance(node, nodes.paragraph):
            return self.inline_children(node)
        if isinstance(node, (nodes.bullet_list, nodes.enumerated_list)):
            return self.listing(node)
        if isinstance(node, nodes.figure):
            return self.figure(node)
        if isinstance(node, nodes.image):
            return self.image(node, "")
        if isinstance(node, nodes.math_block):
            return self.math_block(node)
        if isinstance(node, nodes.table):
            return self.table(node)
        if isinstance(node, nodes.literal_block):
            lang = node.get("language", "")
            return f"```{lang}\n{node.astext()}\n```"
        if isinstance(node, nodes.block_quote):
            return self.quote(self.blocks_of(node))
        if isinstance(node, nodes.footnote):
            return self.footnote(node)
        if isinstance(node, nodes.definition_list):
            return "\n\n".join(
                f"**{self.inline_children(item.next_node(nodes.term))}**\n\n"
                + self.blocks_of(item.next_node(nodes.definition))
                for item in node.findall(nodes.definition_list_item))
        if isinstance(node, nodes.transition):
            return "---"
        if isinstance(node, (nodes.container, nodes.Structural)):
            return None
        logger.warning(f"colab_notebooks: no Markdown for a {type(node).__name__} node "
                       f"in {self.docname}; teach _ext/colab_notebooks.py this node",
                       location=node)
        return ""

    def blocks_of(self, node: nodes.Element) -> str:
        """The Markdown of a node's block children (list items, quotes, asides)."""
        inner = Markdown(self.app, self.docname, self.fw)
        for child in node.children:
            inner.block(child, depth=6)
        if any(isinstance(c, CodeCell) for c in inner.chunks):
            logger.warning(f"colab_notebooks: a code cell inside a list or an aside in "
                           f"{self.docname} cannot become a notebook cell", location=node)
        return "\n\n".join(c for c in inner.chunks if isinstance(c, str))

    def listing(self, node: nodes.Element) -> str:
        items = []
        for i, item in enumerate(node.children, start=node.get("start", 1)):
            bullet = f"{i}." if isinstance(node, nodes.enumerated_list) else "-"
            pad = " " * (len(bullet) + 1)
            body = self.blocks_of(item).replace("\n", "\n" + pad)
            items.append(f"{bullet} {body}")
        return "\n".join(items)

    def admonition(self, node: nodes.Element) -> str:
        title = node.next_node(nodes.title)
        name = (self.inline_children(title) if title is not None
                else admonitionlabels.get(node.tagname, node.tagname.capitalize()))
        body = Markdown(self.app, self.docname, self.fw)
        for child in node.children:
            if child is not title:
                body.block(child, depth=6)
        text = "\n\n".join(c for c in body.chunks if isinstance(c, str))
        return self.quote(f"**{name}**\n\n{text}")

    @staticmethod
    def quote(text: str) -> str:
        return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))

    def figure(self, node: nodes.figure) -> str:
        caption = node.next_node(nodes.caption)
        text = self.inline_children(caption) if caption is not None else ""
        number = self.fignumber(node)
        label = f"**{self.figure_format % number}** " if number else ""
        image = node.next_node(nodes.image)
        # The caption is the description; the alternative text names the figure by
        # its number and the caption's first sentence, in plain text.
        plain = " ".join(caption.astext().split()) if caption is not None else ""
        alt = " ".join(filter(None, [self.figure_format % number if number else "",
                                     plain.split(". ")[0].rstrip(".")]))
        return f"{self.image(image, alt)}\n\n{label}{text}".rstrip()

    def fignumber(self, node: nodes.figure) -> str:
        numbers = self.env.toc_fignumbers.get(self.docname, {}).get("figure", {})
        for figure_id in node["ids"]:
            if figure_id in numbers:
                return ".".join(map(str, numbers[figure_id]))
        return ""

    def image(self, node: nodes.image, alt: str) -> str:
        # By html-page-context the HTML builder has copied the image into _images/
        # and pointed the node at that copy: the published site serves it there.
        return f"![{escape(alt)}]({urljoin(self.base, node['uri'])})"

    def math_block(self, node: nodes.math_block) -> str:
        latex = node.astext().strip()
        if node.get("number"):
            # With numfig, the site numbers equations across the edition (as it numbers
            # figures), not page by page as node["number"] does.
            numbers = self.env.toc_fignumbers.get(self.docname, {}).get("displaymath", {})
            number = numbers.get(node["ids"][0]) if node["ids"] else None
            number = ".".join(map(str, number)) if number else node["number"]
            latex += f" \\tag{{{number}}}"
        return f"$$\n{latex}\n$$"

    def table(self, node: nodes.table) -> str:
        group = node.next_node(nodes.tgroup)
        head = [row for thead in group.findall(nodes.thead) for row in thead.children]
        body = [row for tbody in group.findall(nodes.tbody) for row in tbody.children]
        if not head:
            head, body = body[:1], body[1:]

        def cells(row):
            return [" ".join(self.inline_children(p) for p in entry.findall(nodes.paragraph))
                    for entry in row.children]

        def align(entry):
            classes = entry.get("classes", [])
            return "---:" if "text-right" in classes else (
                ":---:" if "text-center" in classes else "---")

        lines = [head and "| " + " | ".join(cells(head[0])) + " |",
                 "| " + " | ".join(align(e) for e in (body or head)[0].children) + " |"]
        lines += ["| " + " | ".join(cells(row)) + " |" for row in body]
        caption = node.next_node(nodes.title)
        table = "\n".join(lines)
        return f"{self.inline_children(caption)}\n\n{table}" if caption is not None else table

    def footnote(self, node: nodes.footnote) -> str:
        """A reference of the page's list (sphinxcontrib-bibtex's footbibliography)."""
        text = " ".join(self.inline_children(p) for p in node.findall(nodes.paragraph))
        return f"- {text}"

    # Inline ---------------------------------------------------------------------------

    def inline_children(self, node: nodes.Element | None) -> str:
        if node is None:
            return ""
        parts, children = [], list(node.children)
        for i, child in enumerate(children):
            if isinstance(child, nodes.footnote_reference):
                before = "".join(parts)
                if i and isinstance(children[i - 1], nodes.footnote_reference):
                    parts[-1] = parts[-1][:-1] + "; " + self.citation(child, before)[1:]
                    continue
                parts.append(self.citation(child, before))
            else:
                parts.append(self.inline(child))
        return re.sub(r"[ \t]*\n[ \t]*", " ", "".join(parts)).strip()

    def inline(self, node: nodes.Node) -> str:
        if isinstance(node, nodes.Text):
            return escape(node.astext())
        if isinstance(node, nodes.emphasis):
            return f"*{self.inline_children(node)}*"
        if isinstance(node, nodes.strong):
            return f"**{self.inline_children(node)}**"
        if isinstance(node, nodes.literal):
            if "xref" in node["classes"]:
                return self.inline_children(node)
            text = node.astext()
            fence = "``" if "`" in text else "`"
            return f"{fence}{text}{fence}"
        if isinstance(node, nodes.math):
            return f"${node.astext().strip()}$"
        if isinstance(node, nodes.reference):
            return self.link(node)
        if isinstance(node, (nodes.target, nodes.footnote, nodes.comment)):
            return ""
        if isinstance(node, (nodes.inline, nodes.abbreviation, nodes.title_reference)):
            return self.inline_children(node)
        if isinstance(node, nodes.superscript):
            return f"<sup>{self.inline_children(node)}</sup>"
        if isinstance(node, nodes.subscript):
            return f"<sub>{self.inline_children(node)}</sub>"
        if isinstance(node, nodes.image):
            return self.image(node, node.get("alt", ""))
        logger.warning(f"colab_notebooks: no Markdown for an inline {type(node).__name__} "
                       f"in {self.docname}", location=node)
        return escape(node.astext())

    def link(self, node: nodes.reference) -> str:
        text = self.inline_children(node)
        if node.get("refuri"):
            # Relative links of the site (pages, anchors) become absolute ones.
            url = urljoin(self.base, node["refuri"])
        elif node.get("refid"):
            url = f"{self.base}#{node['refid']}"
        else:
            return text
        if re.fullmatch(r"\\?\(\d+\\?\)", text) or re.fullmatch(r"\(\d+\)", text):
            return text.replace("\\", "")  # an {eq} reference: its number, as on the page
        return f"[{text}]({url})"

    def citation(self, node: nodes.footnote_reference, before: str) -> str:
        """An author-year citation for a footcite's footnote reference.

        ``{footcite:t}`` writes the authors into the text itself ("He et al. [1]"):
        then only the year is added; ``{footcite:p}`` becomes "(He et al., 2016)".
        """
        key = node["refid"].removeprefix("footcite-")
        entry = self.entries.get(key)
        if entry is None:
            logger.warning(f"colab_notebooks: no bibliography entry {key}", location=node)
            return ""
        names = [_clean(" ".join(p.last_names)) for p in entry.persons.get("author", [])]
        year = entry.fields.get("year", "")
        if len(names) > 2:
            authors = f"{names[0]} *et al.*"
        else:
            authors = f" {_('and')} ".join(names)
        spoken = re.sub(r"[*\\\s]+", " ", before).strip()
        space = "" if before.endswith((" ", "\n")) else " "
        if names and re.search(rf"{re.escape(names[0])}( et al\.| \S+ \S+)?$", spoken):
            return f"{space}({year})"
        return f"{space}({authors}, {year})"


def _clean(latex: str) -> str:
    from pybtex.richtext import Text

    return Text.from_latex(latex).render_as("text")


# --- the notebooks -------------------------------------------------------------------

def comment(text: str) -> list[str]:
    """A code comment in lines that fit the notebook's code cells."""
    return ["# " + line for line in textwrap.wrap(text, 76)]


def install_cell(app, fw: str) -> nbformat.NotebookNode:
    lines = comment(_("Run this cell first: it installs the book's library (Colab's PyTorch, "
                      "TensorFlow and JAX stay as they are)") + " "
                    + _("and sets the language of what the library prints."))
    if fw == "jax":
        lines += ["import os"]
        lines += comment(_("On a GPU, JAX takes 75% of its memory at first use; this makes "
                           "it take what it needs."))
        lines += ['os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")']
    lines += [
        f'%pip install -q "{install_requirement(app)}"',
        "import d2l_resnet",
        f'd2l_resnet.set_language("{edition(app)}")',
    ]
    cell = nbformat.v4.new_code_cell("\n".join(lines))
    # pip's own lines vary with what is installed: nbval does not compare them.
    cell.metadata["tags"] = ["install", "nbval-ignore-output"]
    return cell


def header_cell(app, docname: str, title: str, fw: str) -> nbformat.NotebookNode:
    book = app.config.html_title or app.config.project
    line = _("{book}, {framework} notebook.").format(book=f"*{escape(book)}*",
                                                     framework=FRAMEWORKS[fw])
    link = _("Read this page on the book's site")
    return nbformat.v4.new_markdown_cell(
        f"# {title}\n\n{line} [{link}]({page_url(app, docname)})")


def frameworks_of(doctree: nodes.document) -> list[str]:
    """The frameworks whose code cells the page has, in the book's order."""
    found = {framework_of(n) for n in doctree.findall(nodes.container)}
    return [fw for fw in FRAMEWORKS if fw in found]


def write_notebooks(app, doctree: nodes.document, docname: str) -> None:
    source = Path(app.env.doc2path(docname))
    if source.suffix != ".ipynb":
        return
    stored = nbformat.read(source, as_version=4)
    for fw in frameworks_of(doctree):
        md = Markdown(app, docname, fw)
        chunks = md.document(doctree)
        cells = [install_cell(app, fw), header_cell(app, docname, md.title, fw)]
        prose: list[str] = []
        count = 0
        for chunk in chunks + [CodeCell(-1)]:
            if isinstance(chunk, str):
                prose.append(chunk)
                continue
            if prose:
                cells.append(nbformat.v4.new_markdown_cell("\n\n".join(prose)))
                prose = []
            if chunk.index >= 0:
                count += 1
                cells.append(code_cell(stored.cells[chunk.index], count))
        nb = nbformat.v4.new_notebook(metadata={
            "kernelspec": stored.metadata.get("kernelspec", {}),
            "language_info": {"name": "python"},
            "colab": {"provenance": []},
            "d2l_resnet": {"page": docname, "edition": edition(app), "framework": fw,
                           "source": source.name, "url": page_url(app, docname)},
        })
        nb.cells = cells
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"cell-{i}"
        nbformat.validate(nb)
        out = Path(app.outdir) / notebook_path(docname, fw)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def code_cell(cell: nbformat.NotebookNode, count: int) -> nbformat.NotebookNode:
    """The source cell with its stored outputs, numbered as a run of this notebook
    alone numbers them (the source notebook interleaves three frameworks)."""
    out = copy.deepcopy(cell)
    out.pop("id", None)
    out.execution_count = count
    for output in out.outputs:
        if "execution_count" in output:
            output["execution_count"] = count
    return out


# --- the buttons ---------------------------------------------------------------------


def on_page(app, pagename, templatename, context, doctree):
    """Writes the page's notebooks and puts one Colab and one download entry per
    framework into the theme's dropdowns.

    Here rather than at doctree-resolved: the HTML builder names the images it copies
    to _images/ (builder.images) only after that event.
    """
    if app.builder.name != "html" or doctree is None:
        return  # singlehtml (the PDFs) and other builders write no notebooks
    write_notebooks(app, doctree, pagename)
    present = frameworks_of(doctree)
    if not present:
        return
    pathto = context["pathto"]

    def entries(kind, text, tooltip, icon, url):
        return [{"type": "link", "text": f"{text} · {FRAMEWORKS[fw]}",
                 "tooltip": tooltip.format(framework=FRAMEWORKS[fw]), "icon": icon,
                 "label": f"{kind}-{fw}", "url": url(fw)} for fw in present]

    for group in context.get("header_buttons", []):
        buttons = group.get("buttons", [])
        if group.get("label") == "launch-buttons":
            group["buttons"] = entries(
                "colab", "Colab", _("Open the {framework} notebook in Colab"),
                "_static/images/logo_colab.png", lambda fw: colab_url(app, pagename, fw),
            ) + [b for b in buttons if b.get("text") != "Colab"]
        elif group.get("label") == "download-buttons":
            group["buttons"] = entries(
                "notebook", ".ipynb", _("Download the {framework} notebook"), "fas fa-code",
                lambda fw: pathto(notebook_path(pagename, fw), 1),
            ) + [b for b in buttons if b.get("label") != "download-notebook-button"]


def setup(app):
    app.add_config_value("book_notebooks_branch", "notebooks", "html")
    # The HTML builder rewrites every page (and so every notebook) when an "html"
    # setting changes; this one changes with this file, so that an edit here is not
    # hidden behind pages Sphinx thinks are up to date.
    app.add_config_value("colab_notebooks_digest",
                         hashlib.sha256(Path(__file__).read_bytes()).hexdigest(), "html")
    app.connect("html-page-context", on_page, priority=502)  # after the theme's (501)
    app.add_js_file("framework_links.js", loading_method="defer")
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
