"""The README's library example runs as printed (it drifted once when the activation argument changed)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(capsys):
    if not README.exists():   # the installed-wheel test copies tests/ without the repository
        import pytest

        pytest.skip("README.md is not beside this copy of the tests")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "README.md has no ```python example"
    exec(compile(blocks[0], "README.md", "exec"), {})   # "Using the library alone"; the others need a cluster
    out = capsys.readouterr().out
    assert "LQ+R1" in out, out
