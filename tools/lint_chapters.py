"""Lint the code cells of the book's notebooks (chapters/*.md and the front matter) with ruff.

Each MyST notebook is converted with jupytext to an .ipynb in a temporary directory (nothing is written into the
tree) and ruff checks its code cells: lines at most 88 characters (E501), no syntax errors, no trailing whitespace.
Markdown prose is not checked. Findings are reported as `chapters/NN-topic.md: cell K, line L: ...`.

Usage: python tools/lint_chapters.py [files...]   (default: every notebook in the book; exit 1 on any finding)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]
LINE_LENGTH = 88
RULES = "E501,E9,W291,W293"


def is_notebook(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    head = text.split("---", 2)
    return text.startswith("---") and len(head) == 3 and "format_name: myst" in head[1]


def main(argv: list[str]) -> int:
    files = [Path(a) for a in argv] or sorted([*ROOT.glob("*.md"), *ROOT.glob("chapters/*.md")])
    files = [f.resolve() for f in files if is_notebook(f)]
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        sys.exit("lint_chapters: ruff not found; run `make setup`.")
    with tempfile.TemporaryDirectory() as tmp:
        names = {}
        for f in files:
            out = Path(tmp) / f"{f.stem}.ipynb"
            jupytext.write(jupytext.read(f), out)
            names[str(out)] = f.relative_to(ROOT) if f.is_relative_to(ROOT) else f
        res = subprocess.run([ruff, "check", "--isolated", "--no-cache", f"--line-length={LINE_LENGTH}",
                              f"--select={RULES}", "--output-format=json", *names], capture_output=True, text=True)
        if res.returncode not in (0, 1):
            print(res.stdout, res.stderr)
            return 2
        findings = json.loads(res.stdout or "[]")
    for d in findings:
        cell = d.get("cell")
        where = f"cell {cell}, line {d['location']['row']}" if cell else f"line {d['location']['row']}"
        print(f"{names.get(d['filename'], d['filename'])}: {where}: {d['code']} {d['message']}")
    print(f"lint_chapters: {len(files)} notebooks, {len(findings)} finding(s) "
          f"(code lines <= {LINE_LENGTH} characters, rules {RULES})")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
