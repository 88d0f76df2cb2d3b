"""Student and instructor notebooks (tools/course_notebooks.py): no solution reaches a student, MyST becomes plain
Markdown, captions and the preface are kept, exercise cells follow nbgrader, and student notebooks run."""

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import course_notebooks as cn  # noqa: E402

SOLUTION = re.compile(r"^(?P<f>`{3,}|:{3,})\{solution\}[^\n]*\n(?P<body>.*?)^(?P=f)[ \t]*$", re.M | re.S)
GATED = re.compile(r"^(?P<f>`{3,}|:{3,})\{solution-start\}.*?^(?P=f)[ \t]*$(?P<body>.*?)"
                   r"^(?P<g>`{3,}|:{3,})\{solution-end\}", re.M | re.S)
ROLE_OR_MARKUP = re.compile(r"\{[\w:-]+\}`[^`]*`|^:[\w-]+:.*$", re.M)


def solution_fragments(text: str) -> list[str]:
    """Plain-text pieces (>= 25 characters) of every solution body in a MyST source that occur nowhere else in it."""
    bodies = [m.group("body") for m in [*SOLUTION.finditer(text), *GATED.finditer(text)]]
    rest = SOLUTION.sub("", GATED.sub("", text))
    frags = []
    for body in bodies:
        for line in body.splitlines():
            for piece in ROLE_OR_MARKUP.split(line):
                piece = piece.strip()
                if len(piece) >= 25 and piece not in rest:
                    frags.append(piece)
    return frags


def text_of(nb) -> str:
    return "\n".join(c.source for c in nb.cells)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("course")
    for mode in ("student", "instructor"):
        assert cn.main([mode, "--out", str(out / mode)]) == 0
    return out


@pytest.mark.parametrize("src", cn.sources(ROOT), ids=lambda p: p.name)
def test_no_solution_reaches_a_student(built, src):
    frags = solution_fragments(src.read_text(encoding="utf-8"))
    student = text_of(nbformat.read(built / "student" / f"{src.stem}.ipynb", 4))
    instructor = text_of(nbformat.read(built / "instructor" / f"{src.stem}.ipynb", 4))
    leaked = [f for f in frags if f in student]
    assert not leaked, f"{src.name}: {len(leaked)} solution fragments in the student notebook, e.g. {leaked[:2]}"
    # The fragments are real solution text: the instructor notebook has every one of them.
    missing = [f for f in frags if f not in instructor]
    assert not missing, f"{src.name}: solution fragments missing from the instructor notebook: {missing[:2]}"


def test_the_leak_check_sees_the_book_s_solutions():
    n = {s.name: len(solution_fragments(s.read_text(encoding="utf-8"))) for s in cn.sources(ROOT)}
    n_solutions = sum(len(SOLUTION.findall(s.read_text(encoding="utf-8"))) for s in cn.sources(ROOT))
    assert n_solutions >= 20 and sum(n.values()) >= 3 * n_solutions, (n_solutions, n)


@pytest.mark.parametrize("mode", ["student", "instructor"])
def test_plain_markdown_captions_preface(built, mode):
    names = {p.stem for p in (built / mode).glob("*.ipynb")}
    assert {"index", "01-setup", "07-combined"} <= names, names
    for src in cn.sources(ROOT):
        nb = nbformat.read(built / mode / f"{src.stem}.ipynb", 4)
        assert nb.cells[0].cell_type == "code" and "pip" in nb.cells[0].source, "setup cell first"
        md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        left = re.findall(r"\{[\w:-]+\}`[^`]*`|^(?:`{3,}|:{3,})\{[\w:-]+\}|^\([\w:.-]+\)=\s*$", md, re.M)
        assert not left, f"{mode}/{src.stem}: MyST left in Markdown: {left[:3]}"
        for cell in jupytext_cells(src):
            cap = ((cell.metadata.get("mystnb") or {}).get("figure") or {}).get("caption")
            if cap:
                words = re.sub(r"\{[\w:-]+\}`[^`]*`", "", " ".join(str(cap).split()))[:40]
                assert words in md, f"{mode}/{src.stem}: caption lost: {words!r}"
        n_ex = len(re.findall(r"^`{3,}\{exercise\}", src.read_text(encoding="utf-8"), re.M))
        assert len(re.findall(r"^\*\*Exercise \d+\.\d+", md, re.M)) == n_ex, f"{src.stem}: exercise headings"


def jupytext_cells(src):
    import jupytext

    return jupytext.read(src).cells


SYNTHETIC = '''---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

(ch-x)=
# A chapter

## Part
See {numref}`Chapter %s <ch-x>`, {eq}`eq-x`, {cite:t}`k1` and {cite}`k1`.

$$
a=b
$$ (eq-x)

```{note}
An aside.
```

```{exercise} Warm-up
:label: ex-x-1
Compute $a$.
```

```{solution} ex-x-1
:class: dropdown
SECRET-ONE is the answer.
```

:::{solution} ex-x-1
SECRET-TWO in colon fences.
:::

```{solution-start} ex-x-1
:class: dropdown
```
SECRET-THREE before a code cell.

```{code-cell} ipython3
x = "SECRET-FOUR in a gated code cell"
```

```{solution-end}
```

```{code-cell} ipython3
:tags: [solution]
y = "SECRET-FIVE in a solution-only cell"
```

```{code-cell} ipython3
:tags: [exercise]
def area(r):
    ### BEGIN SOLUTION
    return 3.14159 * r**2  # SECRET-SIX
    ### END SOLUTION
```

```{code-cell} ipython3
:tags: [exercise-check]
assert abs(area(1.0) - 3.14159) < 1e-9, "area(1) should be pi"
```
'''


def test_synthetic_chapter(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: index\nparts:\n- caption: C\n  numbered: true\n"
                                       "  chapters:\n  - file: chapters/01-x\n")
    (tmp_path / "references.bib").write_text("@article{k1,\n  title = {T},\n  author = {Doe, Jane and Roe, "
                                             "Richard and Poe, Edgar},\n  year = {2001}\n}\n")
    src = tmp_path / "chapters" / "01-x.md"
    src.write_text(SYNTHETIC)
    for mode in ("student", "instructor"):
        cn.main([mode, "--root", str(tmp_path), str(src)])
    st = nbformat.read(tmp_path / "_build/student/01-x.ipynb", 4)
    ins = nbformat.read(tmp_path / "_build/instructor/01-x.ipynb", 4)
    secrets = [f"SECRET-{w}" for w in ("ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX")]
    assert [s for s in secrets if s in text_of(st)] == []
    assert [s for s in secrets if s not in text_of(ins)] == []
    md = text_of(st)
    for expected in ("Chapter 1", "(1.1)", "Doe et al. [2001]", "[Doe et al., 2001]", "\\tag{1.1}", "> **Note.**",
                     "**Exercise 1.1 (Warm-up).**"):
        assert expected in md, (expected, md)
    ex = [c for c in st.cells if "nbgrader" in c.metadata]
    assert [c.metadata.nbgrader["solution"] for c in ex] == [True, False]
    assert [c.metadata.nbgrader["grade"] for c in ex] == [False, True]
    assert "raise NotImplementedError()" in ex[0].source and "def area(r):" in ex[0].source
    assert all("raises-exception" in c.metadata.tags for c in ex)
    assert "return 3.14159" in text_of(ins)


nbclient = pytest.importorskip("nbclient")


@pytest.mark.parametrize("name", ["index", "01-setup"])
def test_student_notebook_runs_outside_the_repository(built, tmp_path, name):
    """A short chapter's student notebook executes top to bottom in a folder outside the repository."""
    nb = nbformat.read(built / "student" / f"{name}.ipynb", 4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error" and "raises-exception" not in c.metadata.get("tags", [])]
    assert not errors, errors
