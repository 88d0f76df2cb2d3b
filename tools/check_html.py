"""Real-browser check of the built book: headless Chromium renders each page and we assert that

- MathJax typeset the math (its <mjx-container> elements are in the DOM, no raw $$ or \\( \\[ delimiters left),
- no Markdown table was left as raw `|---|` text (output Markdown rendered as MyST),
- every <img> on the page loaded (naturalWidth > 0),
- the page requested no external host (Chromium's net log lists only file:// and data: URLs, plus Chromium's own
  background hosts, which are ignored).

Usage: python tools/check_html.py _build/html   (exit 1 on any failure; checks index.html and every chapter page)
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

# Hosts Chromium contacts on its own (updates, accounts, safe browsing); not requested by the page.
BROWSER_HOSTS = re.compile(r"(google|gstatic|googleapis|chromium|gvt1|doubleclick)\.", re.I)

PROBE = """
<script>
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
  const report = {mjx: document.querySelectorAll('mjx-container').length,
                  mathSrc: document.querySelectorAll('.math, span.math, div.math').length,
                  images: imgs.length, broken: broken, raw: raw, hits: hits.slice(0, 3), rawTables: rawTables};
  const pre = document.createElement('pre'); pre.id = 'check-html-report';
  pre.textContent = JSON.stringify(report); document.body.appendChild(pre);
}, 3000));
</script>
"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("check_html: no chromium found; run `make chromium` (apt-get install chromium) first.")


def render(page: Path, tmp: Path) -> tuple[dict, set[str]]:
    """Render a copy of `page` with the probe injected; return the probe's report and the hosts requested."""
    probe_page = page.with_name(f".check-{page.name}")
    html = page.read_text(encoding="utf-8")
    probe_page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    netlog = tmp / f"net-{page.stem}.json"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--allow-file-access-from-files", f"--user-data-dir={tmp / 'profile'}",
             "--virtual-time-budget=15000", f"--log-net-log={netlog}", "--dump-dom"]
    try:
        out = subprocess.run([chromium(), *flags, probe_page.as_uri()], capture_output=True, text=True,
                             timeout=120).stdout
    finally:
        probe_page.unlink(missing_ok=True)
    m = re.search(r'<pre id="check-html-report">(.*?)</pre>', out, re.S)
    report = json.loads(m.group(1).replace("&quot;", '"')) if m else {"error": "probe did not run"}
    hosts: set[str] = set()
    if netlog.exists():
        for url in re.findall(r'"url":"([^"]+)"', netlog.read_text(errors="ignore")):
            u = urlparse(url)
            if u.scheme in ("http", "https", "ws", "wss") and u.hostname and not BROWSER_HOSTS.search(u.hostname):
                hosts.add(u.hostname)
    return report, hosts


def main(root: str) -> int:
    html = Path(root).resolve()
    pages = [html / "index.html", *[html / f"{p}.html" for p in ("notation", "status", "bibliography")],
             *sorted((html / "chapters").glob("*.html"))]
    if not pages[0].exists():
        print(f"check_html: {pages[0]} is missing; build the book first (make book).")
        return 1
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for page in pages:
            report, hosts = render(page, Path(tmp))
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
            if hosts:
                problems.append(f"requested external hosts: {sorted(hosts)}")
            status = "FAIL " + "; ".join(problems) if problems else "ok"
            print(f"{str(name):40s} math={report.get('mjx', '?'):>4} images={report.get('images', '?'):>3}  {status}")
            if problems:
                failures.append(str(name))
    if failures:
        print(f"check_html: {len(failures)} page(s) failed: {failures}")
        return 1
    print(f"check_html: {len(pages)} pages ok (math typeset, images loaded, no external requests)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "_build/html"))
