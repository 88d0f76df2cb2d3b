"""tools/check_html.py: the overflow check fails on a page made to overflow and passes on one that fits or scrolls.

The browser tests build tiny HTML books in a temporary directory and run the real checker on them in headless
Chromium; they are skipped where Chromium is not installed (`make chromium`).
"""

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("check_html", ROOT / "tools" / "check_html.py")
check_html = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_html)

needs_chromium = pytest.mark.skipif(
    not any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")),
    reason="chromium is not installed (make chromium)",
)

LONG = "x = " + " + ".join(f"v{i}" for i in range(60))  # about 400 characters on one line

PAGE = """<!DOCTYPE html><html><head><style>
body {{ margin: 0; }} article {{ max-width: 600px; padding: 0 10px; }}
.hidden {{ overflow: hidden; }} .scroll {{ overflow-x: auto; }} pre {{ overflow: visible; }}
mjx-container {{ display: block; }} mjx-math {{ display: inline-block; white-space: nowrap; }}
</style></head><body><article>
<p>Some text.</p>
{body}
</article></body></html>
"""

CLIPPED = f"""
<div class="hidden"><pre>{LONG}</pre></div>
<div class="hidden"><table><tr>{"<td>0.123456789</td>" * 40}</tr></table></div>
<div class="hidden"><mjx-container display="true"><mjx-math>{"a + b + " * 80}</mjx-math></mjx-container></div>
"""

FITS = """
<pre>x = 1</pre>
<table><tr><td>0.1</td><td>0.2</td></tr></table>
<mjx-container display="true"><mjx-math>a + b</mjx-math></mjx-container>
"""

SCROLLS = f"""
<pre class="scroll">{LONG}</pre>
<div class="scroll"><table><tr>{"<td>0.123456789</td>" * 40}</tr></table></div>
"""


def book(tmp_path: Path, body: str) -> Path:
    html = tmp_path / "html"
    html.mkdir()
    (html / "index.html").write_text(PAGE.format(body=body), encoding="utf-8")
    return html


@needs_chromium
def test_fails_on_clipped_math_table_and_code(tmp_path, capsys):
    html = book(tmp_path, CLIPPED)
    before = sorted(p.name for p in html.rglob("*"))
    assert check_html.main(str(html)) == 1
    out = capsys.readouterr().out
    for width in check_html.WIDTHS:
        for kind in ("code", "table", "math"):
            assert f"1 {kind} clipped at {width}px" in out, out
    assert "math=1/1 table=1/1 code=1/1" in out, out
    assert "1 code/output blocks with lines over 88 characters" in out, out
    # no probe file was written into the tree being checked
    assert sorted(p.name for p in html.rglob("*")) == before


@needs_chromium
def test_passes_when_everything_fits(tmp_path, capsys):
    assert check_html.main(str(book(tmp_path, FITS))) == 0, capsys.readouterr().out


@needs_chromium
def test_scroll_box_is_enough_on_a_phone_but_code_must_fit_on_a_laptop(tmp_path, capsys):
    html = book(tmp_path, SCROLLS)
    phone = check_html.main(str(html), widths=(420,))
    assert phone == 0, capsys.readouterr().out
    capsys.readouterr()
    assert check_html.main(str(html), widths=(1280,)) == 1
    page_line = capsys.readouterr().out.splitlines()[0]
    assert "1 code wider than the" in page_line and "table" not in page_line.split("FAIL")[1], page_line


def test_only_the_browsers_own_hosts_are_ignored(tmp_path):
    log = tmp_path / "net.json"
    urls = ["https://update.googleapis.com/service/update2/json", "http://clients2.google.com/time/1/current",
            "https://fonts.gstatic.com/s/roboto.woff2", "https://unpkg.com/thebe@0.8.2/lib/index.js",
            "https://ajax.googleapis.com/ajax/libs/jquery.js", "file:///book/index.html", "data:text/plain,x"]
    log.write_text("".join(f'{{"url":"{u}"}}' for u in urls))
    assert check_html.external_hosts(log) == {"fonts.gstatic.com", "unpkg.com", "ajax.googleapis.com"}


def test_notebook_downloads_must_resolve_on_notebook_pages(tmp_path):
    html = tmp_path / "html"
    (html / "chapters").mkdir(parents=True)
    (html / "_notebooks" / "student").mkdir(parents=True)
    page = html / "chapters" / "01-x.html"
    bar = ('<h1>T</h1><p class="nb-downloads"><a href="../_notebooks/01-x.ipynb">a</a> '
           '<a href="../_notebooks/student/01-x.ipynb">b</a></p>')
    page.write_text(bar, encoding="utf-8")
    good = '{"cells": [{"cell_type": "markdown", "source": "x", "metadata": {}}]}'
    (html / "_notebooks" / "01-x.ipynb").write_text(good, encoding="utf-8")
    assert check_html.download_problems(page, html) == [
        "download link ../_notebooks/student/01-x.ipynb is not a readable notebook"]
    (html / "_notebooks" / "student" / "01-x.ipynb").write_text('{"cells": []}', encoding="utf-8")
    assert check_html.download_problems(page, html) == [
        "download link ../_notebooks/student/01-x.ipynb is an empty notebook"]
    (html / "_notebooks" / "student" / "01-x.ipynb").write_text(good, encoding="utf-8")
    assert check_html.download_problems(page, html) == []
    page.write_text("<h1>T</h1>", encoding="utf-8")
    assert check_html.download_problems(page, html) == ["no notebook downloads under the title"]
    other = html / "notation.html"
    other.write_text("<h1>N</h1>", encoding="utf-8")
    assert check_html.download_problems(other, html) == []
