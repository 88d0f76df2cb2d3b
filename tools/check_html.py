"""Real-browser check of the built book: headless Chromium renders each page and we assert that

- MathJax typeset the math (its <mjx-container> elements are in the DOM, no raw $$ or \\( \\[ delimiters left),
- no Markdown table was left as raw `|---|` text (output Markdown rendered as MyST),
- every <img> on the page loaded (naturalWidth > 0),
- nothing is cut off: at each viewport width (1280 px and 420 px), every math container, table and code or output block
  either fits its box or sits in a box that scrolls horizontally (overflow-x auto/scroll on the item or on an ancestor
  inside the page's <article>). Content wider than its box with no such scroll box is "clipped" and fails the page. At
  the desktop width (1280 px) code/output blocks and display math must fit the column outright (no sideways scrolling):
  code and printed lines are kept within 88 characters (checked by counting, too: no line of a code or output block
  is longer than MAX_LINE), long equations are split. Folded content (<details>, dropdowns) is unfolded before
  measuring.
- the page requested no external host (Chromium's net log lists only file:// and data: URLs, plus the few hosts that
  Chromium itself contacts in the background, listed exactly in BROWSER_HOSTS).

The pages are rendered from probe copies written to a temporary directory (a <base> tag points them back at the book),
never into the tree being checked.

Usage: python tools/check_html.py _build/html   (exit 1 on any failure; checks index.html and every page beside it)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

#: Hosts Chromium contacts on its own (component updates, clock, accounts), whatever page it shows: seen in the net
#: log of a blank `data:` page with the flags below. Exact names only: a page asset on any other host (a font CDN on
#: fonts.gstatic.com, a script on unpkg.com or googleapis.com) is an external request and fails the check.
BROWSER_HOSTS = frozenset({
    "accounts.google.com", "clients1.google.com", "clients2.google.com", "update.googleapis.com",
    "safebrowsing.googleapis.com", "safebrowsingohttpgateway.googleapis.com", "clientservices.googleapis.com",
    "optimizationguide-pa.googleapis.com", "content-autofill.googleapis.com", "redirector.gvt1.com",
})

#: Viewport widths (CSS px) at which every page is measured: a laptop and a phone.
WIDTHS = (1280, 420)
#: The longest line allowed in a code cell or its printed output (the house rule; ruff checks the code).
MAX_LINE = 88

PROBE = """
<script>
const MAXLINE = %(maxline)d;
window.addEventListener('load', () => setTimeout(() => {
  const imgs = [...document.images];
  const broken = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
  const body = document.querySelector('article') || document.body;
  const clone = body.cloneNode(true);
  clone.querySelectorAll('mjx-container, script, style, pre, code, .highlight').forEach(e => e.remove());
  const text = clone.textContent;
  const hits = [...text.matchAll(/\\$\\$|\\\\\\(|\\\\\\[/g)]
    .map(h => text.slice(Math.max(0, h.index - 40), h.index + 40));
  const raw = hits.length;
  // Markdown table rules left as text (|---|---, or dashes turned into en/em dashes)
  const rawTables = (text.match(/\\|\\s*:?[-\u2013\u2014]+:?\\s*\\|\\s*:?[-\u2013\u2014]+/g) || []).length;
  // Unfold everything a reader can unfold, then measure every math, table and code/output block.
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  document.querySelectorAll('.toggle-details__container, .toggle-details__content')
    .forEach(e => { e.style.display = 'block'; });
  setTimeout(() => {
    const art = document.querySelector('article') || document.body;
    const cs = getComputedStyle(art);
    const colRight = art.getBoundingClientRect().right - parseFloat(cs.paddingRight);
    const kinds = {math: 'mjx-container', table: 'table', code: 'pre'};
    const measure = {};
    for (const [kind, sel] of Object.entries(kinds)) {
      const m = {total: 0, clipped: 0, scrolls: 0, examples: [], long: []};
      for (const e of art.querySelectorAll(sel)) {
        if (kind === 'math' && e.parentElement.closest('mjx-container')) continue;   // nested
        const r = e.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;                                // not rendered
        m.total += 1;
        const display = kind !== 'math' || e.getAttribute('display') === 'true';
        // The right edge of what the reader should see: the typeset formula (not MathJax's invisible
        // assistive MathML), the table's cells, the code's longest line.
        let right = r.right;
        if (kind === 'math') {
          for (const c of e.children) {
            if (c.tagName.toLowerCase() === 'mjx-assistive-mml') continue;
            right = Math.max(right, c.getBoundingClientRect().right);
          }
        } else {
          right = Math.max(right, r.left + e.clientLeft + e.scrollWidth);
        }
        const boxRight = a => a.getBoundingClientRect().left + a.clientLeft + a.clientWidth;
        let scroller = null, clip = null;
        for (let a = e; a && a !== art; a = a.parentElement) {
          const ox = getComputedStyle(a).overflowX;
          if (ox === 'auto' || ox === 'scroll') { scroller = a; break; }
          const isBox = a.clientWidth > 0 && getComputedStyle(a).display !== 'inline';
          // a hidden overflow clips it; a code block whose text runs past its own background is cut off too
          if (isBox && (ox === 'hidden' || ox === 'clip' || (a === e && kind === 'code'))
              && right > boxRight(a) + 1) { clip = a; break; }
        }
        const scrolls = scroller !== null && right > boxRight(scroller) + 1;
        const bad = scroller === null && (clip !== null || right > colRight + 1);
        const label = (e.textContent || '').replace(/\\s+/g, ' ').trim().slice(0, 70);
        if (kind === 'code') {
          const longest = Math.max(...(e.textContent || '').split('\\n').map(l => l.length));
          if (longest > MAXLINE) m.long.push({chars: longest, text: label});
        }
        const over = Math.round(right - (scroller ? boxRight(scroller) : clip ? boxRight(clip) : colRight));
        if (scrolls) m.scrolls += 1;
        if (bad) m.clipped += 1;
        if (bad || (scrolls && display && kind !== 'table'))
          m.examples.push({bad: bad, over: over, display: display, text: label});
      }
      measure[kind] = m;
    }
    const report = {mjx: document.querySelectorAll('mjx-container').length,
                    mathSrc: document.querySelectorAll('.math, span.math, div.math').length,
                    images: imgs.length, broken: broken, raw: raw, hits: hits.slice(0, 3), rawTables: rawTables,
                    width: window.innerWidth, column: Math.round(colRight - art.getBoundingClientRect().left),
                    measure: measure};
    window.parent.postMessage(JSON.stringify(report), '*');
  }, 500);
}, 3000));
</script>
"""


# The page is shown in an iframe exactly `width` CSS px wide (headless Chromium will not make a window narrower than
# 500 px); the probe inside posts its report up, and the frame writes it into its own DOM for --dump-dom.
FRAME = """<!DOCTYPE html><html><head><style>body{{margin:0}} iframe{{border:0;display:block}}</style></head><body>
<iframe src="{src}" style="width:{width}px;height:900px"></iframe>
<script>
window.addEventListener('message', ev => {{
  const pre = document.createElement('pre'); pre.id = 'check-html-report';
  pre.textContent = ev.data; document.body.appendChild(pre);
}});
</script></body></html>
"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("check_html: no chromium found; run `make chromium` (apt-get install chromium) first.")


def external_hosts(netlog: Path) -> set[str]:
    """Hosts of http(s)/ws(s) requests in a Chromium net log, less Chromium's own background hosts."""
    hosts: set[str] = set()
    if netlog.exists():
        for url in re.findall(r'"url":"([^"]+)"', netlog.read_text(errors="ignore")):
            u = urlparse(url)
            if u.scheme in ("http", "https", "ws", "wss") and u.hostname and u.hostname not in BROWSER_HOSTS:
                hosts.add(u.hostname)
    return hosts


def render(page: Path, tmp: Path, width: int) -> tuple[dict, set[str]]:
    """Render a probe copy of `page` (in `tmp`, with a <base> back to the page) at `width` px; return report, hosts."""
    html = page.read_text(encoding="utf-8")
    base = f'<base href="{page.parent.as_uri()}/">'
    html = re.sub(r"<head([^>]*)>", lambda m: f"<head{m.group(1)}>{base}", html, count=1)
    probe_page = tmp / f"probe-{width}-{page.name}"
    probe = PROBE.replace("%(maxline)d", str(MAX_LINE))
    probe_page.write_text(html.replace("</body>", probe + "</body>"), encoding="utf-8")
    frame = tmp / f"frame-{width}-{page.name}"
    frame.write_text(FRAME.format(src=probe_page.as_uri(), width=width), encoding="utf-8")
    netlog = tmp / f"net-{width}-{page.stem}.json"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--allow-file-access-from-files", f"--user-data-dir={tmp / 'profile'}",
             f"--window-size={max(width, 500) + 20},940",
             "--virtual-time-budget=15000", f"--log-net-log={netlog}", "--dump-dom"]
    out = subprocess.run([chromium(), *flags, frame.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    m = re.search(r'<pre id="check-html-report">(.*?)</pre>', out, re.S)
    report = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                        .replace("&gt;", ">")) if m else {"error": "probe did not run"}
    return report, external_hosts(netlog)


def layout_problems(report: dict, width: int) -> list[str]:
    """Clipped math/tables/code at any width; at the desktop width also code or display math that must scroll."""
    problems = []
    long = report.get("measure", {}).get("code", {}).get("long", [])
    if long and width == WIDTHS[0]:
        problems.append(f"{len(long)} code/output blocks with lines over {MAX_LINE} characters, e.g. "
                        + "; ".join(f"{e['chars']} chars '{e['text'][:50]}'" for e in long[:3]))
    for kind, m in report.get("measure", {}).items():
        bad = [e for e in m["examples"] if e["bad"]]
        if bad:
            problems.append(f"{len(bad)} {kind} clipped at {width}px (wider than its box, no scroll box), e.g. "
                            + "; ".join(f"+{e['over']}px '{e['text'][:50]}'" for e in bad[:3]))
        if width >= 1000 and kind != "table":
            wide = [e for e in m["examples"] if not e["bad"] and e["display"]]
            if wide:
                problems.append(f"{len(wide)} {kind} wider than the {report['column']}px column at {width}px "
                                "(split the equation / keep lines within 88 characters), e.g. "
                                + "; ".join(f"+{e['over']}px '{e['text'][:50]}'" for e in wide[:3]))
    return problems


def download_problems(page: Path, html: Path) -> list[str]:
    """The page's notebook downloads (_ext/notebook_downloads.py) must point at real notebooks.

    In the book (a ``chapters`` folder), the preface and every chapter page must offer them; each link must
    resolve to a readable .ipynb with cells.
    """
    text = page.read_text(encoding="utf-8")
    bar = re.search(r'<p class="nb-downloads">(.*?)</p>', text, flags=re.S)
    notebook_page = page.name == "index.html" and page.parent == html or page.parent.name == "chapters"
    if bar is None:
        return ["no notebook downloads under the title"] if (html / "chapters").is_dir() and notebook_page else []
    problems = []
    for href in re.findall(r'href="([^"]+)"', bar.group(1)):
        target = (page.parent / href).resolve()
        try:
            cells = json.loads(target.read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError, TypeError):
            problems.append(f"download link {href} is not a readable notebook")
            continue
        if not cells:
            problems.append(f"download link {href} is an empty notebook")
    return problems


def pages_of(html: Path) -> list[Path]:
    """index.html first, then every other top-level page and every chapter page."""
    top = sorted(p for p in html.glob("*.html") if p.name not in ("index.html", "genindex.html", "search.html"))
    return [html / "index.html", *top, *sorted((html / "chapters").glob("*.html"))]


def main(root: str, widths: tuple[int, ...] = WIDTHS) -> int:
    html = Path(root).resolve()
    pages = pages_of(html)
    if not pages[0].exists():
        print(f"check_html: {pages[0]} is missing; build the book first (make book).")
        return 1
    failures = []
    totals = {w: {k: [0, 0, 0] for k in ("math", "table", "code")} for w in widths}
    with tempfile.TemporaryDirectory() as tmp:
        for page in pages:
            for width in widths:
                report, hosts = render(page, Path(tmp), width)
                name = page.relative_to(html)
                problems = []
                if "error" in report:
                    problems.append(report["error"])
                else:
                    if report["mathSrc"] and report["mjx"] == 0:
                        problems.append("math present but not typeset by MathJax")
                    if report["raw"]:
                        problems.append(f"{report['raw']} raw math delimiters left in the text, e.g. {report['hits']}")
                    if report["rawTables"]:
                        problems.append(f"{report['rawTables']} Markdown tables left as raw text")
                    if report["broken"]:
                        problems.append(f"images that did not load: {report['broken']}")
                    problems += layout_problems(report, width)
                    if width == widths[0]:
                        problems += download_problems(page, html)
                    for k, m in report["measure"].items():
                        t = totals[width][k]
                        t[0], t[1], t[2] = t[0] + m["total"], t[1] + m["clipped"], t[2] + m["scrolls"]
                if hosts:
                    problems.append(f"requested external hosts: {sorted(hosts)}")
                meas = report.get("measure", {})
                counts = " ".join(f"{k}={m['clipped']}/{m['total']}" for k, m in meas.items())
                status = "FAIL " + "; ".join(problems) if problems else "ok"
                print(f"{str(name):36s} {width:>4}px math={report.get('mjx', '?'):>4} "
                      f"images={report.get('images', '?'):>3} clipped {counts}  {status}")
                if problems:
                    failures.append(f"{name}@{width}")
    for w in widths:
        print(f"check_html: at {w}px, clipped/total (scrolling): "
              + ", ".join(f"{k} {c}/{t} ({s})" for k, (t, c, s) in totals[w].items()))
    if failures:
        print(f"check_html: {len(failures)} page view(s) failed: {failures}")
        return 1
    print(f"check_html: {len(pages)} pages ok at {', '.join(f'{w}px' for w in widths)} (math typeset, images loaded, "
          "nothing clipped, no external requests)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "_build/html"))
