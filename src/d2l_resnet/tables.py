"""Tables computed by code and shown in the book."""

from __future__ import annotations

from collections.abc import Iterable

from .i18n import number


class Table:
    """A small table that renders as Markdown in a notebook and as aligned text elsewhere.

    Args:
        headers: Column titles.
        rows: Rows of cell values; numbers are written the way the current language
            writes them (``d2l_resnet.set_language``).
    """

    def __init__(
        self, headers: Iterable[object], rows: Iterable[Iterable[object]]
    ) -> None:
        self.headers = [str(h) for h in headers]
        self.rows = [[_fmt(v) for v in row] for row in rows]
        for row in self.rows:
            if len(row) != len(self.headers):
                raise ValueError(
                    f"row {row} has {len(row)} cells, expected {len(self.headers)}"
                )

    def _repr_markdown_(self) -> str:
        lines = [
            "| " + " | ".join(self.headers) + " |",
            "|" + "|".join("---:" for _ in self.headers) + "|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)

    def __repr__(self) -> str:
        widths = [
            max(len(c) for c in col) for col in zip(self.headers, *self.rows)
        ]
        return "\n".join(
            "  ".join(c.rjust(w) for c, w in zip(row, widths))
            for row in [self.headers, *self.rows]
        )


def _fmt(value: object) -> str:
    """Numbers as the current language writes them: ints grouped, floats to 2 places."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return number(value, 2 if isinstance(value, float) else None)
    return str(value)
