"""Release metadata: one version, one repository URL, licenses and citation named where readers look.

The version test runs everywhere, also against an installed wheel (tools/test_wheel.sh). The repository tests need
the repository's files and skip when the tests run from a copy outside it.
"""

import importlib.metadata
import re
from pathlib import Path

import pytest

import escape_ntk as en

ROOT = Path(__file__).resolve().parents[1]
in_repository = pytest.mark.skipif(
    not (ROOT / "_config.yml").is_file() or not (ROOT / "CITATION.cff").is_file(),
    reason="needs the repository's files (tests run from a copy outside it)",
)


def test_version_is_the_installed_metadata_version():
    # pyproject.toml reads the version from escape_ntk/_version.py; a second, hard-coded version anywhere in the
    # build would make the installed metadata disagree with the package.
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.dev\d+)?", en.__version__), en.__version__
    assert importlib.metadata.version("escape_ntk") == en.__version__


def _config():
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def _cff():
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


@in_repository
def test_changelog_has_a_section_for_the_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(en.__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", text, re.M), en.__version__
    assert "## [Unreleased]" in text


@in_repository
def test_citation_cff_cites_the_book_and_the_paper():
    cff = _cff()
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors", "type", "license"):
        assert cff.get(key), key
    assert set(cff["license"]) == {"MIT", "CC-BY-4.0"}
    papers = [r for r in cff["references"] if "2206.03688" in str(r.get("identifiers")) + str(r.get("url"))]
    assert len(papers) == 1, cff["references"]
    paper = papers[0]
    assert [a["family-names"] for a in paper["authors"]] == ["Nichani", "Bai", "Lee"]
    assert paper["year"] == 2022 and "NeurIPS 2022" in paper["collection-title"]
    assert paper["title"].startswith("Identifying good directions to escape the NTK regime")


@in_repository
def test_one_repository_url():
    # _config.yml defines the URL; every GitHub URL in the citation file, the README and pyproject.toml is a copy.
    url = _config()["repository"]["url"]
    assert _cff()["repository-code"] == url
    for name in ("README.md", "CITATION.cff", "pyproject.toml"):
        found = set(re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", (ROOT / name).read_text(encoding="utf-8")))
        assert found <= {url}, (name, found - {url})


@in_repository
def test_repository_button_is_off_while_the_url_is_a_placeholder():
    text = (ROOT / "_config.yml").read_text(encoding="utf-8")
    placeholder = re.search(r"^\s+url:\s*\S+\s*#\s*PLACEHOLDER\b", text, re.M) is not None
    if placeholder:
        assert _config()["html"]["use_repository_button"] is False


@in_repository
def test_licenses_are_named_in_readme_and_footer():
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "creativecommons.org/licenses/by/4.0/legalcode" in (ROOT / "LICENSE-CONTENT.md").read_text(encoding="utf-8")
    footer = _config()["html"]["extra_footer"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for text in (footer, readme):
        assert "MIT" in text and "CC BY 4.0" in text
    for section in ("## How to cite", "## License"):
        assert re.search(rf"^{section}\b", readme, re.M), section
    assert "How to cite" in (ROOT / "index.md").read_text(encoding="utf-8")
