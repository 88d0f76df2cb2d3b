"""Sphinx extension: every notebook page offers itself as notebooks to download.

Under each notebook page's title (the preface and chapters/*.md) it puts two plain links:

- the executed notebook, with its outputs: MyST-NB's copy in ``_build/jupyter_execute/<doc>.ipynb``;
- the student version, without solutions (``tools/course_notebooks.py``, as ``make student`` writes it).

Both are copied into the HTML output under ``_notebooks/`` and ``_notebooks/student/`` when the build
finishes, so the downloads work offline, from the built folder, like the rest of the book.
"""

import shutil
import sys
from pathlib import Path

FOLDER = "_notebooks"


def _tools(app):
    """tools/course_notebooks.py of this book (imported from the source tree)."""
    tools = str(Path(app.srcdir) / "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    import course_notebooks

    return course_notebooks


def _notebook_docs(app) -> dict[str, Path]:
    """{docname: source} for the book's notebooks (the preface and the chapters)."""
    root = Path(app.srcdir)
    return {str(p.relative_to(root).with_suffix("")): p for p in _tools(app).sources(root)}


def _links(app, pagename, templatename, context, doctree):
    if pagename not in _notebook_docs(app) or "body" not in context:
        return
    stem = Path(pagename).name
    executed = context["pathto"](f"{FOLDER}/{stem}.ipynb", 1)
    student = context["pathto"](f"{FOLDER}/student/{stem}.ipynb", 1)
    bar = (f'<p class="nb-downloads">Download this page as a notebook: '
           f'<a href="{executed}" download>executed, with outputs (.ipynb)</a> · '
           f'<a href="{student}" download>student version, without solutions (.ipynb)</a></p>')
    body = context["body"]
    cut = body.find("</h1>")
    context["body"] = body[:cut + 5] + bar + body[cut + 5:] if cut >= 0 else bar + body


def _copy(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    docs = _notebook_docs(app)
    executed_dir = Path(app.outdir).parent / "jupyter_execute"
    out = Path(app.outdir) / FOLDER
    out.mkdir(parents=True, exist_ok=True)
    missing = [d for d in docs if not (executed_dir / f"{d}.ipynb").exists()]
    if missing:
        raise RuntimeError(f"notebook_downloads: no executed notebook for {missing} in {executed_dir}; "
                           f"build with execute_notebooks: force (the book's setting)")
    for doc in docs:
        shutil.copyfile(executed_dir / f"{doc}.ipynb", out / f"{Path(doc).name}.ipynb")
    course = _tools(app)
    course.write_course(list(docs.values()), out / "student", Path(app.srcdir), student=True)


def setup(app):
    app.connect("html-page-context", _links)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
