#!/usr/bin/env bash
# Build the escape_ntk wheel, install it into a fresh venv, and run the unit tests against the INSTALLED
# package, never the source tree.
#
#   tools/test_wheel.sh [PYTHON]          e.g. tools/test_wheel.sh python3.12   (default python3.11)
#   make wheel-test PYTHON=python3.13
#
# - The wheel is built by pip (isolated build, as `pip install git+...` does) from a copy of the working
#   tree's files (tracked and untracked, minus .gitignore'd ones), so nothing is written into the tree.
# - The venv gets the wheel with its declared dependency ranges plus pytest. On Python 3.11 the book's
#   lock, requirements.txt, is used as constraints (same versions as the book, torch 2.13.0 CPU, offline
#   here); on 3.12 and 3.13 the ranges are resolved freshly, as a user's `pip install` would (there,
#   torch comes from PyPI: several GB). WHEEL_TEST_CONSTRAINTS=none|FILE overrides the choice.
# - tests/ is copied to a temporary folder outside the repository and pytest runs there, with its own
#   empty pytest.ini (no rootdir in the repository, nothing puts lib/ on sys.path). An extra test asserts
#   that escape_ntk was imported from the venv's site-packages. Test modules that do not import escape_ntk
#   test the repository's tools, not the library, and are left out of the copy (listed in the output); test
#   modules that import it but also read repository files (test_release.py) skip those tests themselves.
set -euo pipefail

PYTHON=${1:-${PYTHON:-python3.11}}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYVER=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")' 2>/dev/null) || {
  echo "test_wheel: '$PYTHON' does not run; pass a path, e.g. tools/test_wheel.sh ~/.pyenv/versions/3.12.1/bin/python3.12" >&2
  exit 2
}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/escape-ntk-wheel-$PYVER.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

CONSTRAINTS=${WHEEL_TEST_CONSTRAINTS:-}
if [[ -z $CONSTRAINTS ]]; then
  if [[ $PYVER == 3.11 ]]; then CONSTRAINTS=$ROOT/requirements.txt; else CONSTRAINTS=none; fi
fi
CFLAG=()
[[ $CONSTRAINTS != none ]] && CFLAG=(-c "$CONSTRAINTS")

t0=$SECONDS
stamp() { echo "test_wheel [$PYVER] $(( SECONDS - t0 )) s: $*"; }

stamp "fresh venv with $("$PYTHON" --version) in $WORK/venv"
"$PYTHON" -m venv "$WORK/venv"
VPY=$WORK/venv/bin/python
"$VPY" -m pip install --quiet --upgrade "pip>=24"

stamp "copy the working tree's files and build the wheel"
mkdir -p "$WORK/src" "$WORK/dist"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
  | xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' \
  | tar --null -T - -cf -) | tar -xf - -C "$WORK/src"
"$VPY" -m pip wheel --quiet --no-deps -w "$WORK/dist" "$WORK/src"
WHEEL=$(ls "$WORK"/dist/escape_ntk-*.whl)
stamp "built $(basename "$WHEEL") ($(du -k "$WHEEL" | cut -f1) KB)"

stamp "install the wheel and pytest (constraints: $CONSTRAINTS)"
"$VPY" -m pip install --quiet "${CFLAG[@]}" "$WHEEL" pytest
"$VPY" -m pip check
"$VPY" -m pip list --format=freeze | grep -iE '^(escape.ntk|torch|numpy|scipy|sympy|matplotlib|tqdm|pytest)==' \
  | tr '\n' ' '; echo

stamp "unit tests from a copy of tests/ outside the repository"
mkdir -p "$WORK/run"
cp -r "$ROOT/tests" "$WORK/run/tests"
rm -rf "$WORK/run/tests/__pycache__"
left_out=()
for f in "$WORK"/run/tests/test_*.py; do
  if ! grep -qE '^[[:space:]]*(import|from)[[:space:]]+escape_ntk' "$f"; then left_out+=("$(basename "$f")"); rm "$f"; fi
done
echo "library tests: $(ls "$WORK"/run/tests/test_*.py | wc -l) modules; left out (no escape_ntk import): ${left_out[*]:-none}"
printf '[pytest]\n' > "$WORK/run/pytest.ini"
cat > "$WORK/run/tests/test_zz_installed_location.py" <<'EOF'
"""Written by tools/test_wheel.sh: the package under test is the installed wheel, not lib/."""
import os
import sysconfig

import escape_ntk as en


def test_imported_from_site_packages():
    purelib = os.path.realpath(sysconfig.get_paths()["purelib"])
    assert os.path.realpath(en.__file__).startswith(purelib + os.sep), (en.__file__, purelib)
EOF
cd "$WORK/run"
"$VPY" -c 'import escape_ntk as en; print(f"escape_ntk {en.__version__} imported from {en.__file__}")'
"$VPY" -m pytest -q -p no:cacheprovider --rootdir "$WORK/run" tests
stamp "wheel test passed"
