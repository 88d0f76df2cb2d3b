"""Write the book's notebooks as .ipynb files, mechanically, from the MyST sources (index.md, chapters/*.md).

Modes (each writes one folder under _build/, never the folder that jupytext.toml pairs the chapters with):

- ``copies``      _build/ipynb/       jupytext's plain conversion; MyST kept (JupyterLab + jupyterlab-myst renders it)

Usage: python tools/course_notebooks.py MODE [--root DIR] [--out DIR] [files...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]
OUT_DIRS = {"copies": "_build/ipynb"}


def is_notebook(path: Path) -> bool:
    """A MyST text notebook: YAML front matter that declares jupytext's myst format."""
    text = path.read_text(encoding="utf-8")
    head = text.split("---", 2)
    return text.startswith("---") and len(head) == 3 and "format_name: myst" in head[1]


def sources(root: Path) -> list[Path]:
    """The book's notebooks in reading order: the preface (index.md), then chapters/*.md."""
    files = [root / "index.md", *sorted((root / "chapters").glob("*.md"))]
    return [f for f in files if f.exists() and is_notebook(f)]


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
    p.add_argument("--out", type=Path, help="output folder (default: ROOT/" + "|".join(OUT_DIRS.values()) + ")")
    p.add_argument("files", nargs="*", type=Path, help="sources (default: index.md and chapters/*.md)")
    a = p.parse_args(argv)
    root = a.root.resolve()
    files = [f.resolve() for f in a.files] or sources(root)
    out = (a.out or root / OUT_DIRS[a.mode]).resolve()
    written = write_copies(files, out)
    print(f"course_notebooks {a.mode}: {len(written)} notebooks in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
