"""escape_ntk.tables: the one table helper of the book."""

import numpy as np
import pytest
import torch

import escape_ntk as en
from escape_ntk.tables import no_negative_zero


def test_layout_header_alignment_and_formats():
    t = en.table([[64, 0.12345, "a"], [256, -1.5, "b"]], ["$m$", r"$\lVert f_L\rVert$", "note"], [None, "+.3f", None])
    lines = str(t).splitlines()
    assert lines[0] == r"| $m$ | $\lVert f_L\rVert$ | note |"
    assert lines[1] == "|---:|---:|---|"               # numeric columns right-aligned, text left
    assert lines[2] == "| 64 | +0.123 | a |"
    assert lines[3] == "| 256 | -1.500 | b |"
    assert t._repr_markdown_() == str(t)               # what the notebook displays


def test_negative_zero_never_printed():
    t = en.table([[-0.0, -1e-9, -4e-5, -0.00001, 1e-5]], list("abcde"), [".4f", ".4f", ".2%", ".2e", ".0e"])
    assert t.cells[0] == ["0.0000", "0.0000", "0.00%", "-1.00e-05", "1e-05"]
    assert not any(c.startswith("-0") for c in t.cells[0])
    assert no_negative_zero("-0.000 → -0.5, x-0, 1e-05, -0.0e+00, (-0)") == "0.000 → -0.5, x-0, 1e-05, 0.0e+00, (0)"


def test_scalars_of_every_kind_and_empty_cells():
    rows = [[np.int64(3), np.float64(0.5), torch.tensor(0.25, dtype=torch.float64), None, True]]
    t = en.table(rows, ["i", "np", "torch", "empty", "flag"], ".2f")
    assert t.cells[0] == ["3", "0.50", "0.25", "", "True"]
    assert str(t).splitlines()[1] == "|---:|---:|---:|---|---|"   # an all-empty column counts as text


def test_footer_is_bold_and_formatted_per_column():
    t = en.table([[1, 0.5]], ["m", "slope"], [None, "+.3f"], footer=["fit", -0.00001])
    assert t.cells[-1] == ["**fit**", "**+0.000**"]


def test_callable_format_title_and_pipes():
    t = en.table([[1e-40, "x|y"]], ["v", "s"], [lambda v: "0" if v < 1e-30 else f"{v:.2e}", None], title="Title")
    assert str(t).startswith("Title\n\n| v | s |")
    assert t.cells[0] == ["0", "x\\|y"]


def test_bad_input_names_the_fix():
    with pytest.raises(ValueError, match="one cell per column"):
        en.table([[1, 2]], ["a", "b", "c"])
    with pytest.raises(ValueError, match="footer has 1 cells"):
        en.table([[1, 2]], ["a", "b"], footer=[1])
    with pytest.raises(ValueError, match="one format per column"):
        en.table([[1, 2]], ["a", "b"], [".1f"])
    with pytest.raises(ValueError, match="header"):
        en.table([], [])
