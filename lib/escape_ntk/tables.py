"""The book's result tables: one helper, so every chapter's table looks and formats the same.

``en.table(rows, header, fmt)`` returns a :class:`Table`, which a notebook displays as Markdown (the book renders it
as a real table; header cells may hold math such as ``"$B(d,l)$"``). Numbers are formatted per column, numeric
columns are right-aligned, and a value that rounds to zero is printed without a sign: never ``-0.0000``.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Sequence

Format = str | Callable[[object], str] | None

# A printed zero with a minus sign: -0, -0.000, -0.0e+00, -0.00% (not part of a longer number such as 1e-05).
_NEG_ZERO = re.compile(r"(?<![\w.])-(?=0(?:\.0+)?(?:e[+-]?\d+)?%?(?![\w.]))")


def no_negative_zero(text: str) -> str:
    """Drop the minus sign of every printed zero in `text` ("-0.0000" -> "0.0000", "-0.00%" -> "0.00%")."""
    return _NEG_ZERO.sub("", text)


def _scalar(v):
    """`v` as a Python number if it is a real scalar (int, float, NumPy scalar, 0-d array or tensor), else None."""
    if isinstance(v, bool | str) or v is None:
        return None
    if isinstance(v, numbers.Real):
        return v.item() if hasattr(v, "item") else v
    if getattr(v, "ndim", None) == 0 and hasattr(v, "item"):
        x = v.item()
        return x if isinstance(x, numbers.Real) and not isinstance(x, bool) else None
    return None


def _is_number(v) -> bool:
    return _scalar(v) is not None


def _cell(v, fmt: Format) -> str:
    """One cell: None -> empty; str passes through; integers exactly; other numbers by `fmt` (spec or callable)."""
    if v is None:
        return ""
    if isinstance(v, str):
        text = v
    elif callable(fmt):
        text = str(fmt(v))
    elif _is_number(v):
        x = _scalar(v)
        if isinstance(x, numbers.Integral):
            text = str(int(x))
        elif isinstance(x, float) and not math.isfinite(x):
            text = "nan" if math.isnan(x) else ("∞" if x > 0 else "−∞")
        else:
            text = format(x, fmt if fmt is not None else ".4g")
            if text.startswith("-") and no_negative_zero(text) != text:   # rounds to zero: print +0 / 0
                text = format(abs(x), fmt if fmt is not None else ".4g")
    else:
        text = str(v)
    return no_negative_zero(text).replace("|", "\\|").replace("\n", " ")


class Table:
    """A Markdown table that notebooks display as Markdown (``_repr_markdown_``); ``str(table)`` is the source."""

    def __init__(self, markdown: str, header: list[str], cells: list[list[str]]):
        self.markdown = markdown
        self.header = header
        self.cells = cells

    def _repr_markdown_(self) -> str:
        return self.markdown

    def __str__(self) -> str:
        return self.markdown

    def __repr__(self) -> str:
        return self.markdown


def table(rows: Sequence[Sequence], header: Sequence[str], fmt: Format | Sequence[Format] = None, *,
          footer: Sequence | None = None, title: str | None = None) -> Table:
    """Render `rows` under `header` as one Markdown table.

    rows:   sequences of cells, each as long as `header`. A cell is a number (int, float, NumPy or 0-d torch
            scalar), a string (shown as is: Markdown and `$math$` allowed) or None (empty). Integers are shown
            exactly (a callable `fmt` still applies); cast to float to format one.
    header: column titles (Markdown, math allowed).
    fmt:    a format spec for every numeric cell (e.g. ".4f", "+.3f", ".2e", ".1%"), a callable, or one such entry
            per column (None: integers as is, floats ".4g").
    footer: an optional last row, shown in bold (e.g. fitted slopes), formatted like the columns (or given as
            strings, for a format of its own).
    title:  an optional line above the table.

    Numeric columns are right-aligned. Any printed zero loses its minus sign. Cost O(cells).
    """
    header = [str(h) for h in header]
    k = len(header)
    if k == 0:
        raise ValueError("table: `header` is empty; pass one title per column.")
    if fmt is None or isinstance(fmt, str) or callable(fmt):
        fmts = [fmt] * k
    else:
        fmts = list(fmt)
        if len(fmts) != k:
            raise ValueError(f"table: {len(fmts)} formats for {k} columns; pass one format per column or a "
                             "single format for all.")
    rows = [list(r) for r in rows]
    if footer is not None:
        rows_all = [*rows, list(footer)]
    else:
        rows_all = rows
    for i, r in enumerate(rows_all):
        if len(r) != k:
            what = "footer" if footer is not None and i == len(rows) else f"row {i}"
            raise ValueError(f"table: {what} has {len(r)} cells but the header has {k} columns; give every row "
                             "one cell per column (None for an empty cell).")
    cells = [[_cell(v, f) for v, f in zip(r, fmts, strict=True)] for r in rows]
    if footer is not None:
        cells.append([f"**{c}**" if c else "" for c in (_cell(v, f) for v, f in zip(footer, fmts, strict=True))])
    numeric = [all(r[j] is None or _is_number(r[j]) for r in rows) and any(r[j] is not None for r in rows)
               for j in range(k)]                                  # the body decides the alignment
    head = [_cell(h, None) for h in header]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in cells]
    md = "\n".join(lines) + "\n"
    if title:
        md = f"{title}\n\n{md}"
    return Table(md, head, cells)
