"""Jupyter use of the chapters: the notebook copies never collide with jupytext's pairing.

jupytext.toml pairs chapters/*.md with _build/notebooks/*.ipynb. A copy written into that folder is newer than the
chapter, and jupytext then refuses to open the chapter (HTTP 400 in JupyterLab). tools/course_notebooks.py writes its
copies elsewhere; these tests check that with jupytext's own path logic and, when jupyter_server is installed
(`make lab`), by opening every chapter through jupytext's contents manager after writing the copies.
"""

import importlib.util
import os
import shutil
import sys
import time
from pathlib import Path

import pytest
from jupytext.config import find_jupytext_configuration_file, load_jupytext_configuration_file
from jupytext.paired_paths import long_form_multiple_formats, paired_paths

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import course_notebooks as cn  # noqa: E402


def _paired(path: Path) -> list[Path]:
    """Every file jupytext pairs with `path`, from the repository's jupytext.toml (empty if unpaired)."""
    config = load_jupytext_configuration_file(find_jupytext_configuration_file(str(path.parent)))
    formats = config.default_formats(str(path))
    if not formats:
        return []
    formats = long_form_multiple_formats(formats)
    fmt = next(f for f in formats if f["extension"] == path.suffix)
    return [Path(p) for p, _ in paired_paths(str(path), fmt, formats)]


def test_pairing_is_configured():
    paired = _paired(ROOT / "chapters" / "01-setup.md")
    assert ROOT / "_build" / "notebooks" / "01-setup.ipynb" in paired, f"jupytext.toml pairing changed: {paired}"


@pytest.mark.parametrize("mode", sorted(cn.OUT_DIRS))
def test_copy_folders_are_disjoint_from_the_pairing(mode):
    out = (ROOT / cn.OUT_DIRS[mode]).resolve()
    for src in cn.sources(ROOT):
        for p in _paired(src):
            assert not p.resolve().is_relative_to(out), (
                f"`{mode}` writes into {out}, where jupytext pairs {src.name} with {p}: opening the chapter in "
                "JupyterLab would fail. Choose another folder in tools/course_notebooks.py OUT_DIRS.")
        # The copy itself must not be a paired file either (else jupytext would pair it back to the chapter).
        assert _paired(out / f"{src.stem}.ipynb") == [], f"{out / src.stem}.ipynb is paired by jupytext.toml"


def _repo_copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "chapters").mkdir(parents=True)
    shutil.copy(ROOT / "jupytext.toml", root)
    shutil.copy(ROOT / "index.md", root)
    for f in (ROOT / "chapters").glob("*.md"):
        shutil.copy(f, root / "chapters")
    old = time.time() - 3600  # the chapters were edited an hour before the copies are written
    for f in [root / "index.md", *(root / "chapters").glob("*.md")]:
        os.utime(f, (old, old))
    return root


def _open_all(root: Path) -> list[str]:
    """Open every chapter as a notebook through jupytext's contents manager; return the failures."""
    from jupyter_server.services.contents.largefilemanager import LargeFileManager
    from jupytext import build_sync_jupytext_contents_manager_class

    cm = build_sync_jupytext_contents_manager_class(LargeFileManager)(root_dir=str(root))
    failures = []
    for f in sorted((root / "chapters").glob("*.md")):
        try:
            model = cm.get(f"chapters/{f.name}", type="notebook")
            assert model["content"]["cells"], f"{f.name} opened empty"
        except Exception as e:  # noqa: BLE001 - report every chapter's failure
            failures.append(f"{f.name}: {type(e).__name__}: {e}")
    return failures


needs_server = pytest.mark.skipif(importlib.util.find_spec("jupyter_server") is None,
                                  reason="jupyter_server not installed (make lab installs it)")


@needs_server
def test_chapters_open_after_make_notebooks(tmp_path):
    root = _repo_copy(tmp_path)
    for mode in cn.OUT_DIRS:
        assert cn.main([mode, "--root", str(root)]) == 0
    assert _open_all(root) == []


@needs_server
def test_copies_in_the_pairing_folder_would_break_the_chapters(tmp_path):
    """The failure the tests above guard against, reproduced: copies in _build/notebooks/ block the chapters."""
    root = _repo_copy(tmp_path)
    cn.main(["copies", "--root", str(root), "--out", str(root / "_build" / "notebooks")])
    failures = _open_all(root)
    assert len(failures) == len(list((root / "chapters").glob("*.md"))), failures
