"""Sphinx extension: bibliography entries labelled "[Bai and Lee, 2020]", like the in-text citations.

sphinxcontrib-bibtex cites in author-year form (``bibtex_reference_style: author_year``), but its
default list style labels entries alpha-style ("[BL20]"). This registers a pybtex formatting style
"authoryear" (unsrt formatting, entries sorted by author, year, title) whose labels are the author-year
text, so the text and the lists use one citation style. Enable it with
``bibtex_default_style: authoryear``.
"""

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle


def _names(entry) -> str:
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    last = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in persons]
    if not last:
        return entry.key
    if len(last) == 1:
        return last[0]
    if len(last) == 2:
        return f"{last[0]} and {last[1]}"
    return f"{last[0]} et al."


class AuthorYearLabelStyle(BaseLabelStyle):
    """Labels "Last, year", "Last and Last, year" or "Last et al., year"; a, b, ... if repeated."""

    def format_labels(self, sorted_entries):
        labels = [f"{_names(e)}, {e.fields.get('year', 'n.d.')}" for e in sorted_entries]
        count, seen = Counter(labels), Counter()
        for label in labels:
            if count[label] > 1:
                seen[label] += 1
                label = f"{label}{chr(ord('a') + seen[label] - 1)}"
            yield label


class AuthorYearStyle(UnsrtStyle):
    default_label_style = "authoryear"
    default_sorting_style = "author_year_title"


def setup(app):
    register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabelStyle)
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
