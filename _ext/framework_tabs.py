"""Sphinx extension: framework code cells become sphinx-design synchronized tabs.

Every code cell of the book is tagged with its framework (``pytorch``,
``tensorflow``, ...). MyST-NB cannot place a ``code-cell`` inside a ``tab-set``
directive, so this transform does it on the doctree: each run of consecutive
framework-tagged cells becomes one sphinx-design tab set, one tab per cell, all in
the sync group ``framework``. sphinx-design then does the rest: one choice switches
every tab set on the page, it is remembered across pages and editions
(localStorage), ``?framework=tensorflow`` in a link preselects a framework, and the
tabs are radio buttons, so they work from the keyboard (Tab, then the arrow keys).

The nodes built here are the ones sphinx-design's ``tab-set`` and ``tab-item``
directives build, so its HTML post-transform renders them like hand-written tabs.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx_design.shared import create_component

from d2l_resnet.registry import FRAMEWORKS as REGISTRY

# Tag -> tab label, in the order the book's cells come in (d2l_resnet.registry).
FRAMEWORKS = {tag: fw.name for tag, fw in REGISTRY.items()}
SYNC_GROUP = "framework"


def framework_of(node: nodes.Node) -> str | None:
    """The framework tag of a MyST-NB code cell container, else None."""
    if not isinstance(node, nodes.container) or node.get("nb_element") != "cell_code":
        return None
    found = [fw for fw in FRAMEWORKS if f"tag_{fw}" in node["classes"]]
    if len(found) > 1:
        raise ValueError(f"a code cell is tagged with several frameworks: {found}")
    return found[0] if found else None


def tab_item(cell: nodes.container, fw: str, selected: bool) -> nodes.container:
    label = nodes.rubric(FRAMEWORKS[fw], FRAMEWORKS[fw], classes=["sd-tab-label"])
    label["sync_id"] = fw
    label["sync_group"] = SYNC_GROUP
    content = create_component("tab-content", classes=["sd-tab-content"], children=[cell])
    return create_component("tab-item", classes=["sd-tab-item"], selected=selected,
                            children=[label, content])


class FrameworkTabs(SphinxTransform):
    """Groups each run of framework-tagged code cells into a synchronized tab set."""

    default_priority = 500  # after MyST-NB has built the cells (at parse time)

    def apply(self, **kwargs) -> None:
        for parent in list(self.document.findall(nodes.Element)):
            runs, run = [], []
            for child in parent.children:
                if framework_of(child):
                    run.append(child)
                else:
                    if run:
                        runs.append(run)
                    run = []
            if run:
                runs.append(run)
            for cells in runs:
                self.group(parent, cells)

    def group(self, parent: nodes.Element, cells: list[nodes.container]) -> None:
        fws = [framework_of(c) for c in cells]
        if len(set(fws)) != len(fws):
            raise ValueError(
                f"{self.env.docname}: consecutive code cells {fws} repeat a framework; "
                "separate the two examples with text, or merge the cells")
        tab_set = create_component("tab-set", classes=["sd-tab-set", "framework-tabs"])
        tab_set.source, tab_set.line = cells[0].source, cells[0].line
        index = parent.index(cells[0])
        for i, (cell, fw) in enumerate(zip(cells, fws)):
            parent.remove(cell)
            tab_set += tab_item(cell, fw, selected=(i == 0))
        parent.insert(index, tab_set)


def setup(app):
    app.setup_extension("sphinx_design")
    app.add_transform(FrameworkTabs)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
