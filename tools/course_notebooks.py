"""Write the book's notebooks as .ipynb files, mechanically, from the MyST sources (index.md, chapters/*.md).

There is one source per chapter; every notebook is derived from it, never edited by hand. Modes, each writing one
folder under _build/ (never _build/notebooks/, the folder jupytext.toml pairs the chapters with):

- ``copies``      _build/ipynb/       jupytext's plain conversion, MyST kept (for JupyterLab with jupyterlab-myst)
- ``instructor``  _build/instructor/  plain Markdown (renders in VS Code, Colab, plain Jupyter), with solutions
- ``student``     _build/student/     the same without solutions: every ``{solution}`` block (also the gated
                                      ``{solution-start}``/``{solution-end}`` form) and every cell tagged ``solution``
                                      removed; code cells tagged ``exercise`` become stubs

Plain Markdown means: exercises become a bold "Exercise N.K (title)" paragraph, solutions (instructor) a bold
"Solution to Exercise N.K" paragraph, admonitions a blockquote, theorems and definitions a bold "Theorem N.K (title)"
paragraph, ``{cite}`` the author-year text of references.bib, ``{ref}``/``{numref}``/``{eq}``/``{prf:ref}`` the
plain text or number the book prints, ``{bibliography}`` a list of the chapter's references; figure captions (cell
metadata in the book) follow their figure as an italic Markdown cell. Each notebook starts with a setup cell that
installs the library when it is not importable, so it runs outside the repository.

Cell tags (see STYLE.md), with nbgrader's metadata so a course can autograde:

- ``solution``        code only the instructor sees (removed from student notebooks)
- ``exercise``        a student's code cell: the part between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (the
                      whole cell without markers) becomes ``# YOUR CODE HERE`` / ``raise NotImplementedError()``;
                      nbgrader ``solution: true``
- ``exercise-check``  the assert cell an exercise's answer must pass; nbgrader ``grade: true, locked: true``

Usage: python tools/course_notebooks.py MODE [--root DIR] [--out DIR] [files...]
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT_DIRS = {"copies": "_build/ipynb", "instructor": "_build/instructor", "student": "_build/student"}
REPO_URL = "https://github.com/escape-ntk/escaping-the-ntk-regime"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
ADMONITIONS = {"admonition", "note", "warning", "tip", "important", "hint", "caution", "attention", "danger",
               "error", "seealso"}
SETUP_CELL = f"""\
# Setup: run this cell first. Outside the book's repository it installs the book's library, escape_ntk.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("escape_ntk") is None:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "git+{REPO_URL}"])"""

FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>.*)$")
LABEL = re.compile(r"^\((?P<label>[\w:.-]+)\)=\s*$")
HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>.+?)\s*$")
EQ_LABEL = re.compile(r"^\$\$\s*\((?P<label>[\w:.-]+)\)\s*$")
ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<body>[^`]*)`")


def is_notebook(path: Path) -> bool:
    """A MyST text notebook: YAML front matter that declares jupytext's myst format."""
    text = path.read_text(encoding="utf-8")
    head = text.split("---", 2)
    return text.startswith("---") and len(head) == 3 and "format_name: myst" in head[1]


def sources(root: Path) -> list[Path]:
    """The book's notebooks in reading order: the preface (index.md), then chapters/*.md."""
    files = [root / "index.md", *sorted((root / "chapters").glob("*.md"))]
    return [f for f in files if f.exists() and is_notebook(f)]


# --------------------------------------------------------------------------------------------------------------
# What the book numbers and names: chapters, sections, figures, equations, exercises, theorems; references.bib.
# --------------------------------------------------------------------------------------------------------------
@dataclass
class Target:
    text: str  # what {ref} prints: the title
    number: str = ""  # what {numref} and {eq} print: "3", "3.2", "3.1"
    kind: str = ""  # Chapter, Section, Figure, Equation, Exercise, Theorem, Definition, ...


@dataclass
class Book:
    targets: dict[str, Target] = field(default_factory=dict)
    cites: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (authors, year)
    entries: dict[str, str] = field(default_factory=dict)  # key -> formatted reference


def _toc_order(root: Path) -> tuple[list[str], dict[str, int]]:
    """All documents of _toc.yml in order, and the chapter number of the documents in numbered parts."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8")) if (root / "_toc.yml").exists() else {}
    docs, numbers, k = [toc.get("root", "index")], {}, 0
    for part in toc.get("parts", []):
        for ch in part.get("chapters", []):
            docs.append(ch["file"])
            if part.get("numbered"):
                k += 1
                numbers[ch["file"]] = k
    return docs, numbers


def _strip_braces(s: str) -> str:
    return re.sub(r"[{}]", "", s).strip()


def read_bib(path: Path) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """Author-year labels ("Nichani et al.", "2022") and one-line references from a BibTeX file."""
    cites, entries = {}, {}
    if not path.exists():
        return cites, entries
    for m in re.finditer(r"@\w+\{(?P<key>[^,\s]+),(?P<body>.*?)\n\}", path.read_text(encoding="utf-8"), re.S):
        fields = {f.group(1).lower(): _strip_braces(f.group(2)) for f in
                  re.finditer(r"(\w+)\s*=\s*\{((?:[^{}]|\{[^{}]*\})*)\}", m.group("body"))}
        authors = [a.strip() for a in fields.get("author", "").split(" and ") if a.strip()]
        last = [a.split(",")[0].strip() if "," in a else a.split()[-1] for a in authors]
        who = (last[0] if len(last) == 1 else f"{last[0]} and {last[1]}" if len(last) == 2
               else f"{last[0]} et al." if last else "Anonymous")
        year = fields.get("year", "n.d.")
        cites[m.group("key")] = (who, year)
        venue = fields.get("booktitle") or fields.get("journal") or fields.get("howpublished") or ""
        link = fields.get("url") or (f"https://doi.org/{fields['doi']}" if "doi" in fields else "")
        names = [" ".join(reversed([p.strip() for p in a.split(",", 1)])) for a in authors]
        names = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)
        parts = [names.rstrip("."), f"{fields.get('title', '')} ({year})", venue, link]
        entries[m.group("key")] = ". ".join(x for x in parts if x)
    return cites, entries


def _bump(counters: dict[str, int], prefix: str, kind: str) -> str:
    counters[kind] = counters.get(kind, 0) + 1
    return f"{prefix}{counters[kind]}"


def index_book(root: Path) -> Book:
    """Number and name every label of the book the way Sphinx/Jupyter Book does (per chapter, in document order)."""
    book = Book()
    book.cites, book.entries = read_bib(root / "references.bib")
    docs, numbers = _toc_order(root)
    for doc in docs:
        path = root / f"{doc}.md"
        if not path.exists():
            continue
        chap = numbers.get(doc)
        prefix = f"{chap}." if chap else ""
        counters: dict[str, int] = {}
        sec: list[int] = []
        pending: list[str] = []
        in_fence = None

        for line in path.read_text(encoding="utf-8").splitlines():
            m = LABEL.match(line)
            if m and in_fence is None:
                pending.append(m.group("label"))
                continue
            h = HEADING.match(line)
            if h and in_fence is None:
                level = len(h.group("hashes"))
                title = ROLE.sub(lambda r: r.group("body"), h.group("title"))
                if level == 1:
                    number, kind = (str(chap) if chap else ""), "Chapter"
                else:
                    depth = level - 1
                    sec = (sec + [0] * depth)[:depth]
                    sec[-1] += 1
                    number, kind = (".".join(map(str, [chap, *sec])) if chap else ""), "Section"
                for lab in pending:
                    book.targets[lab] = Target(title, number, kind)
                pending = []
                continue
            pending = []
            f = FENCE.match(line)
            if f and in_fence is None:
                in_fence = f.group("fence")
                name, arg = f.group("name"), f.group("arg").strip()
                cur = {"name": name, "arg": arg}
                continue
            if in_fence is not None:
                if line.strip() == in_fence:
                    in_fence = None
                    continue
                if line.startswith(":label:") and (cur["name"] == "exercise" or cur["name"].startswith("prf:")):
                    lab = line.split(":", 2)[2].strip()
                    kind = "Exercise" if cur["name"] == "exercise" else cur["name"][4:].capitalize()
                    book.targets[lab] = Target(cur["arg"] or f"{kind} {prefix}", _bump(counters, prefix, kind), kind)
                    cur["labelled"] = True
                    continue
                n = re.match(r"^\s+name:\s*(fig-[\w.-]+)\s*$", line)
                if cur["name"] == "code-cell" and n:
                    book.targets[n.group(1)] = Target("", _bump(counters, prefix, "Figure"), "Figure")
                continue
            e = EQ_LABEL.match(line)
            if e:
                book.targets[e.group("label")] = Target("", _bump(counters, prefix, "Equation"), "Equation")
    return book


# --------------------------------------------------------------------------------------------------------------
# MyST -> plain Markdown.
# --------------------------------------------------------------------------------------------------------------
def _cite(book: Book, keys: str, textual: bool, cited: list[str]) -> str:
    parts = []
    for key in [k.strip() for k in keys.split(",") if k.strip()]:
        cited.append(key)
        who, year = book.cites.get(key, (key, "?"))
        parts.append(f"{who} [{year}]" if textual else f"{who}, {year}")
    return "; ".join(parts) if textual else f"[{'; '.join(parts)}]"


def _ref(book: Book, role: str, body: str) -> str:
    m = re.match(r"^(?P<text>.*?)\s*<(?P<label>[^<>]+)>$", body, re.S)
    text, label = (m.group("text"), m.group("label")) if m else (None, body.strip())
    t = book.targets.get(label, Target(label, "", ""))
    if role == "eq":
        return f"({t.number})" if t.number else f"({label})"
    if role in ("numref", "prf:ref"):
        if text is not None:
            return text.replace("%s", t.number).replace("{number}", t.number).replace("{name}", t.text)
        kind = "Fig." if t.kind == "Figure" else t.kind
        return f"{kind} {t.number}".strip() if t.number else (t.text or label)
    return text if text is not None else (t.text or label)


def convert_inline(text: str, book: Book, cited: list[str]) -> str:
    def sub(m: re.Match) -> str:
        role, body = m.group("role"), m.group("body")
        if role in ("cite", "cite:p", "cite:ps", "cite:alp"):
            return _cite(book, body, False, cited)
        if role in ("cite:t", "cite:ts"):
            return _cite(book, body, True, cited)
        if role in ("ref", "numref", "eq", "prf:ref", "doc", "term"):
            return _ref(book, role, body)
        if role == "math":
            return f"${body}$"
        return f"`{body}`"

    return ROLE.sub(sub, text)


def _options(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split a directive's body into its options (``:key: value`` lines or a YAML block) and its content."""
    opts: dict[str, str] = {}
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is not None:
            opts = {k: str(v) for k, v in (yaml.safe_load("\n".join(lines[1:end])) or {}).items()}
            return opts, lines[end + 1:]
    i = 0
    while i < len(lines) and (m := re.match(r"^:([\w-]+):\s*(.*)$", lines[i])):
        opts[m.group(1)] = m.group(2)
        i += 1
    return opts, lines[i:]


@dataclass
class Converter:
    book: Book
    student: bool
    cited: list[str] = field(default_factory=list)
    gated: str | None = None  # inside a gated solution ("solution") or exercise ("exercise")
    exercise_of: dict[str, str] = field(default_factory=dict)

    def title(self, kind: str, label: str | None, arg: str) -> str:
        t = self.book.targets.get(label or "", Target("", "", kind))
        arg = convert_inline(arg, self.book, self.cited)
        head = f"{kind} {t.number}" if t.number else kind
        return f"**{head}{f' ({arg})' if arg else ''}.**"

    def directive(self, name: str, arg: str, body: list[str]) -> list[str]:
        opts, content = _options(body)
        inner = self.markdown(content)
        if name == "exercise":
            return [self.title("Exercise", opts.get("label"), arg), "", *inner]
        if name == "solution":
            if self.student:
                return []
            ex = self.book.targets.get(arg.strip(), Target("", "", ""))
            return [f"**Solution to Exercise {ex.number}.**" if ex.number else "**Solution.**", "", *inner]
        if name.startswith("prf:"):
            kind = name[4:].capitalize()
            if kind == "Proof":
                return ["*Proof.*", "", *inner, "", "∎"]
            return [self.title(kind, opts.get("label"), arg), "", *inner]
        if name in ADMONITIONS:
            head = convert_inline(arg, self.book, self.cited) if name == "admonition" else name.capitalize()
            quoted = [f"**{head}.**" if head else "", *([""] if head else []), *inner]
            return [f"> {x}".rstrip() for x in quoted]
        if name == "bibliography":
            keys = list(dict.fromkeys(self.cited))
            return [f"- {self.book.entries.get(k, k)}" for k in keys]
        if name == "math":
            return ["$$", *content, "$$"]
        return inner  # any other directive: its content, as Markdown

    def markdown(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            if LABEL.match(line):
                i += 1
                continue
            f = FENCE.match(line)
            if f:
                fence, name, arg = f.group("fence"), f.group("name"), f.group("arg")
                j, depth = i + 1, 0
                while j < len(lines):
                    g = FENCE.match(lines[j])
                    if g and g.group("fence") == fence:
                        depth += 1
                    elif lines[j].strip() == fence:
                        if depth == 0:
                            break
                        depth -= 1
                    j += 1
                body = lines[i + 1:j]
                i = j + 1
                if name in ("solution-start", "exercise-start"):
                    self.gated = name.split("-")[0]
                    if name == "solution-start" and self.student:
                        continue
                    out += self.directive(self.gated, arg, body)
                elif name in ("solution-end", "exercise-end"):
                    self.gated = None
                else:
                    out += self.directive(name, arg, body)
                continue
            if self.gated == "solution" and self.student:
                i += 1
                continue
            e = EQ_LABEL.match(line)
            if e:
                t = self.book.targets.get(e.group("label"), Target("", "", ""))
                out.append(f"\\tag{{{t.number}}} $$" if t.number else "$$")
            else:
                out.append(convert_inline(line, self.book, self.cited))
            i += 1
        return out


def _nbgrader(cell, grade_id: str, grade: bool, solution: bool) -> None:
    meta = {"grade": grade, "grade_id": grade_id, "locked": not solution, "schema_version": 3,
            "solution": solution}
    if grade:
        meta["points"] = 1
    cell.metadata["nbgrader"] = meta


def _stub(source: str) -> str:
    begin, end = "### BEGIN SOLUTION", "### END SOLUTION"
    if begin not in source:
        return STUB
    out, skip = [], False
    for line in source.splitlines():
        if line.strip() == begin:
            skip = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + STUB.replace("\n", "\n" + indent))
        elif line.strip() == end:
            skip = False
        elif not skip:
            out.append(line)
    return "\n".join(out)


def course_notebook(path: Path, book: Book, student: bool) -> nbformat.NotebookNode:
    """The student or instructor notebook of one MyST source."""
    nb = jupytext.read(path)
    conv = Converter(book, student)
    cells = [nbformat.v4.new_code_cell(SETUP_CELL, metadata={"tags": ["setup"]})]
    ex = 0
    for cell in nb.cells:
        tags = list(cell.metadata.get("tags", []))
        if cell.cell_type == "markdown":
            text = "\n".join(conv.markdown(cell.source.splitlines())).strip("\n")
            text = re.sub(r"\n{3,}", "\n\n", text)
            if text.strip():
                cells.append(nbformat.v4.new_markdown_cell(text))
            continue
        if cell.cell_type != "code":
            continue
        if student and ("solution" in tags or conv.gated == "solution"):
            continue
        new = nbformat.v4.new_code_cell(cell.source, metadata=copy.deepcopy(dict(cell.metadata)))
        if "exercise" in tags or "exercise-check" in tags:
            ex += 1
            _nbgrader(new, f"{path.stem}-{ex}", grade="exercise-check" in tags, solution="exercise" in tags)
            if student:
                if "exercise" in tags:
                    new.source = _stub(cell.source)
                new.metadata["tags"] = [*tags, "raises-exception"]  # a stub raises until the student writes code
        cells.append(new)
        fig = (cell.metadata.get("mystnb") or {}).get("figure") or {}
        if fig.get("caption"):
            t = book.targets.get(fig.get("name", ""), Target("", "", ""))
            caption = convert_inline(" ".join(str(fig["caption"]).split()), book, conv.cited)
            cells.append(nbformat.v4.new_markdown_cell(f"*Figure {t.number}. {caption}*" if t.number
                                                       else f"*{caption}*"))
    out = nbformat.v4.new_notebook(cells=cells)
    out.metadata = {k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")}
    return out


def write_course(files: list[Path], out: Path, root: Path, student: bool) -> list[Path]:
    book = index_book(root)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for f in files:
        target = out / f"{f.stem}.ipynb"
        nbformat.write(course_notebook(f, book, student), target)
        written.append(target)
    return written


def write_copies(files: list[Path], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for f in files:
        target = out / f"{f.stem}.ipynb"
        jupytext.write(jupytext.read(f), target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=sorted(OUT_DIRS))
    p.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this repository)")
    p.add_argument("--out", type=Path, help="output folder (default: ROOT/_build/ipynb, instructor or student)")
    p.add_argument("files", nargs="*", type=Path, help="sources (default: index.md and chapters/*.md)")
    a = p.parse_intermixed_args(argv)
    root = a.root.resolve()
    files = [f.resolve() for f in a.files] or sources(root)
    out = (a.out or root / OUT_DIRS[a.mode]).resolve()
    if a.mode == "copies":
        written = write_copies(files, out)
    else:
        written = write_course(files, out, root, student=a.mode == "student")
    print(f"course_notebooks {a.mode}: {len(written)} notebooks in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
