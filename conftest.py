"""Let nbval run the MyST Markdown chapters directly: no .ipynb is written or committed.

`pytest chapters` collects every `chapters/*.md` whose front matter declares a jupytext MyST notebook and runs its cells
in one kernel, with the chapter's folder as the working directory. A failing cell (or `assert`) fails its test.
"""

from unittest import mock

import jupytext
import nbval.plugin
import yaml


def _is_myst_notebook(path) -> bool:
    if path.suffix != ".md":
        return False
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return False
    try:
        meta = yaml.safe_load(text.split("---", 2)[1]) or {}
    except yaml.YAMLError:
        return False
    fmt = ((meta.get("jupytext") or {}).get("text_representation") or {}).get("format_name")
    return fmt == "myst" or meta.get("file_format") == "mystnb"


class MystNotebook(nbval.plugin.IPyNbFile):
    """nbval's notebook collector, fed by jupytext instead of nbformat.read (nbval is pinned for this)."""

    def collect(self):
        nb = jupytext.read(self.path)
        with mock.patch.object(nbval.plugin.nbformat, "read", lambda *a, **k: nb):
            yield from super().collect()


def pytest_collect_file(file_path, parent):
    opt = parent.config.option
    if (opt.nbval or opt.nbval_lax) and _is_myst_notebook(file_path):
        return MystNotebook.from_parent(parent, path=file_path)
    return None
