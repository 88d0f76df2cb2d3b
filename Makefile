# Escaping the NTK Regime: every target sets up what it needs on a fresh machine.
#   make book   set up, execute every chapter, build the HTML book into _build/html
#   make test   set up, lint, unit tests, every chapter through nbval, strict book build, browser check
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
HTML   := _build/html

.PHONY: help setup book book-strict test lint unit chapters check-html chromium bench lab notebooks student instructor \
        lock clean wheel-test

help:
	@echo "make book   - set up, execute every chapter, build the HTML book ($(HTML)/index.html)"
	@echo "make test   - set up, ruff, unit tests, chapters through nbval, strict book build, browser check"
	@echo "make lab    - JupyterLab with the chapters opening as notebooks"
	@echo "make lab ARGS=\"--port 9999\" passes flags to jupyter lab (adds --allow-root as root)"
	@echo "make wheel-test PYTHON=python3.12 - build the wheel, install it in a fresh venv, unit tests on it"
	@echo "make notebooks - .ipynb copies in _build/ipynb/ | bench | clean"
	@echo "make student | instructor - course notebooks in _build/student/ | _build/instructor/ (no solutions | with)"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24" "setuptools>=77"
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	@touch $(STAMP)

setup: $(STAMP)

# Execute every chapter (execute_notebooks: force) and build the HTML book.
book: setup
	$(BIN)/jupyter-book build --all .
	@echo "Book built: file://$(CURDIR)/$(HTML)/index.html"

# The same build, strict: any Sphinx warning, missing reference or failing cell is fatal.
book-strict: setup
	$(BIN)/jupyter-book build --all -W -n --keep-going .

lint: setup
	$(BIN)/ruff check .
	$(PY) tools/lint_chapters.py

unit: setup
	$(BIN)/pytest -q tests

chapters: setup
	$(BIN)/pytest -q --durations=10 index.md chapters

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

check-html: chromium
	$(PY) tools/check_html.py $(HTML)

test: setup
	$(MAKE) lint
	$(MAKE) unit
	$(MAKE) chapters
	$(MAKE) book-strict
	$(MAKE) check-html
	@echo "make test: all checks passed"

# The library alone: build the wheel, install it into a fresh venv of $(PYTHON) and run the unit tests against the
# installed package (tools/test_wheel.sh). Not part of `make test`: it is a second full install of torch.
wheel-test:
	tools/test_wheel.sh $(PYTHON)

bench: setup
	$(PY) -m escape_ntk.bench --json _build/bench.json

# JupyterLab with the pins of requirements-lab.txt (kept out of the book's lock), opening Markdown files as
# notebooks (jupytext) rendered by jupyterlab-myst. Flags pass through: make lab ARGS="--port 9999 --no-browser".
LAB_STAMP := $(VENV)/.lab-installed
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings

$(LAB_STAMP): requirements-lab.txt $(STAMP)
	$(PY) -m pip install --quiet -r requirements-lab.txt -c requirements.txt
	$(PY) -m pip check
	@touch $(LAB_STAMP)

lab: setup $(LAB_STAMP)
	@mkdir -p $(LAB_SETTINGS)
	@printf '%s\n' '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers":' \
	  '  {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}}}' > $(LAB_SETTINGS)/overrides.json
	@echo "Chapters (chapters/*.md) open as notebooks; outputs go to the paired _build/notebooks/ (jupytext.toml)."
	$(BIN)/jupyter lab $$(test "$$(id -u)" = 0 && echo --allow-root) $(ARGS)

# Plain .ipynb copies of the preface and the chapters (MyST kept), outside the pairing folder _build/notebooks/.
notebooks: setup
	$(PY) tools/course_notebooks.py copies

# Course notebooks from the same sources, in plain Markdown (VS Code, Colab, plain Jupyter): students get no
# solutions (removed {solution} blocks and `solution` cells, `exercise` cells as stubs); instructors get everything.
student: setup
	$(PY) tools/course_notebooks.py student

instructor: setup
	$(PY) tools/course_notebooks.py instructor

# Refresh requirements.txt from a fresh resolve of the top-level needs.
lock:
	rm -rf _build/lockenv && $(PYTHON) -m venv _build/lockenv
	_build/lockenv/bin/pip install --quiet torch==2.13.0 jupyter-book==1.0.4.post1 sphinx-mathjax-offline sphinx-proof \
	  sphinx-exercise jupytext nbval pytest pytest-xdist ipykernel numpy scipy sympy matplotlib tqdm ruff
	{ head -2 requirements.txt; _build/lockenv/bin/pip freeze | sed 's/+cpu//'; } > requirements.tmp && mv requirements.tmp requirements.txt

clean:
	rm -rf _build lib/*.egg-info .pytest_cache .ruff_cache
