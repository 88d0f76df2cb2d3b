"""Opening and saving a chapter in Jupyter (jupytext) without edits leaves it byte for byte unchanged.

Each MyST notebook of the book (index.md, chapters/*.md) is read with jupytext and written back in its own format;
the text must be identical, so a student's or author's round trip through JupyterLab never dirties git.
Fix a failure with `jupytext --to md:myst FILE` (or `--update`), which writes jupytext's canonical form.
"""

import difflib
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [
    f for f in [*sorted(ROOT.glob("*.md")), *sorted((ROOT / "chapters").glob("*.md"))]
    if (t := f.read_text(encoding="utf-8")).startswith("---") and "format_name: myst" in t.split("---", 2)[1]
]


def test_the_book_has_notebooks():
    assert {"index.md", "01-setup.md", "07-combined.md"} <= {f.name for f in NOTEBOOKS}, NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_jupytext_round_trip_is_a_no_op(path):
    text = path.read_text(encoding="utf-8")
    again = jupytext.writes(jupytext.reads(text, fmt="md:myst"), fmt="md:myst")
    if again != text:
        diff = list(difflib.unified_diff(text.splitlines(), again.splitlines(), "source", "round trip", lineterm=""))
        changed = sum(1 for d in diff if d[:1] in "+-" and d[:3] not in ("+++", "---"))
        pytest.fail(f"{path.relative_to(ROOT)}: a jupytext round trip changes {changed} lines; run "
                    f"`jupytext --to md:myst {path.relative_to(ROOT)}`. First differences:\n" + "\n".join(diff[:30]))
