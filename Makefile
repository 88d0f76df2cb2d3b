# Escaping the NTK Regime: every target sets up what it needs on a fresh machine.
#   make book   set up, execute every chapter, build the HTML book into _build/html
#   make test   set up, lint, unit tests, strict book build (seed 0), every chapter through nbval at seeds 1 and 2, browser check
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
HTML   := _build/html
# torch build: cpu (default: 2.13.0+cpu from PyTorch's CPU wheel index, see requirements.txt) or cuda
# (`make setup TORCH=cuda`: PyPI's Linux wheel of torch 2.13.0, the CUDA build, several GB with its nvidia packages).
TORCH  ?= cpu
STAMP  := $(VENV)/.installed-$(TORCH)
# One retry per index request: offline, the unreachable CPU index then costs ~1 s per package, not ~8 s.
PIP_RETRIES ?= 1
IS_311 := import sys; sys.exit(sys.version_info[:2] != (3, 11))

# Threads for torch and BLAS: OMP_NUM_THREADS if you set it (make book OMP_NUM_THREADS=2), else the cores idle right
# now (cores minus the 1-minute load average, rounded; at least 1, at most 8). A second thread on a core that another
# process is using made the training chapters 5-10x slower than one thread.
ifndef OMP_NUM_THREADS
OMP_NUM_THREADS := $(shell awk -v c="$$(nproc 2>/dev/null || echo 1)" \
  '{t = int(c - $$1 + 0.5); print (t < 1 ? 1 : (t > 8 ? 8 : t))}' /proc/loadavg 2>/dev/null || echo 1)
endif
export OMP_NUM_THREADS

TIMEOUT_HINT := echo "hint: a cell ran past the per-cell timeout (600 s; the slowest cells take about 25 s on an idle \
2-core machine). The machine is probably busy: stop other jobs or use fewer threads (make ... OMP_NUM_THREADS=1). \
To allow longer cells, raise execute.timeout in _config.yml (book) or --nbval-cell-timeout in pyproject.toml \
(chapters)." >&2

.PHONY: help setup check-python book book-strict test lint unit chapters check-html chromium bench lab notebooks \
  student instructor lock clean sweeps sweep-check wheel-test chapters-seeds

help:
	@echo "make book   - set up, execute every chapter, build the HTML book ($(HTML)/index.html)"
	@echo "make test   - set up, ruff, unit tests, strict book build, chapters through nbval at 2 more seeds, browser check"
	@echo "make lab    - JupyterLab with the chapters opening as notebooks"
	@echo "make lab ARGS=\"--port 9999\" passes flags to jupyter lab (adds --allow-root as root)"
	@echo "make wheel-test PYTHON=python3.12 - build the wheel, install it in a fresh venv, unit tests on it"
	@echo "make notebooks - .ipynb copies in _build/ipynb/ | bench | clean"
	@echo "make student | instructor - course notebooks in _build/student/ | _build/instructor/ (no solutions | with)"
	@echo "make sweeps - compute the missing records of every declared sweep (results/NAME/)"
	@echo "make sweep-check - recompute a random sample of every stored sweep and compare"

# The interpreter first: a clear message instead of "command not found" or a 3.12 venv half-installed; a .venv made
# by another Python (or whose Python is gone) is removed and rebuilt.
check-python:
	@if [ -e $(VENV) ] && ! $(PY) -c '$(IS_311)' 2>/dev/null; then \
	  echo "make: $(VENV) was not made by Python 3.11 ($$($(PY) -V 2>&1 || echo 'its python is missing')); removing it to rebuild with $(PYTHON)."; \
	  rm -rf $(VENV); fi
	@if [ ! -e $(VENV) ]; then \
	  v=$$($(PYTHON) -c 'import platform; print(platform.python_version())' 2>/dev/null) || v=; \
	  if [ -z "$$v" ]; then echo "make: '$(PYTHON)' does not run (not installed?). The book needs Python 3.11: install it (Debian/Ubuntu: apt-get install python3.11 python3.11-venv) or name one: make book PYTHON=/path/to/python3.11" >&2; exit 1; fi; \
	  case "$$v" in 3.11.*) ;; *) echo "make: $(PYTHON) is Python $$v, but the book's pinned environment (requirements.txt) is for Python 3.11; the library alone installs on 3.11-3.13. Run: make book PYTHON=python3.11" >&2; exit 1;; esac; \
	fi

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24" "setuptools>=77"
ifeq ($(TORCH),cpu)
	$(PY) -m pip install --quiet --retries $(PIP_RETRIES) -r requirements.txt
else ifeq ($(TORCH),cuda)
	grep -v -e '^torch==' -e '^--extra-index-url' requirements.txt > $(VENV)/requirements-no-torch.txt
	$(PY) -m pip install --quiet --retries $(PIP_RETRIES) -r $(VENV)/requirements-no-torch.txt
	$(PY) -m pip uninstall --quiet -y torch
	$(PY) -m pip install --isolated torch==2.13.0
else
	@echo "make: TORCH=$(TORCH) is not a torch build; use TORCH=cpu (default) or TORCH=cuda." >&2; exit 1
endif
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	@rm -f $(VENV)/.installed*
	@touch $(STAMP)

setup: check-python $(STAMP)

# Execute every chapter (execute_notebooks: force) and build the HTML book.
book: setup
	@mkdir -p _build && echo "threads: OMP_NUM_THREADS=$(OMP_NUM_THREADS)"
	$(BIN)/jupyter-book build --all . 2>&1 | tee _build/book.log || \
	  { ! grep -qi "timed out\|CellTimeoutError" _build/book.log || $(TIMEOUT_HINT); exit 1; }
	@echo "Book built: file://$(CURDIR)/$(HTML)/index.html"

# The same build, strict: any Sphinx warning, missing reference or failing cell is fatal.
book-strict: setup
	@mkdir -p _build
	$(BIN)/jupyter-book build --all -W -n --keep-going . 2>&1 | tee _build/book-strict.log || \
	  { ! grep -qi "timed out\|CellTimeoutError" _build/book-strict.log || $(TIMEOUT_HINT); exit 1; }

lint: setup
	$(BIN)/ruff check .
	$(PY) tools/lint_chapters.py

unit: setup
	$(BIN)/pytest -q tests

chapters: setup
	@mkdir -p _build && echo "threads: OMP_NUM_THREADS=$(OMP_NUM_THREADS)"
	$(BIN)/pytest -q --durations=10 index.md chapters 2>&1 | tee _build/chapters.log || \
	  { ! grep -qi "timeout\|timed out" _build/chapters.log || $(TIMEOUT_HINT); exit 1; }

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

check-html: chromium
	$(PY) tools/check_html.py $(HTML)

# Every Check cell must hold for any seed, not only the published one: the chapters again with two other base
# seeds (ESCAPE_NTK_SEED, read by en.generator). SEEDS="3 4" picks others.
SEEDS ?= 1 2
chapters-seeds: setup
	for s in $(SEEDS); do echo "ESCAPE_NTK_SEED=$$s"; \
	  ESCAPE_NTK_SEED=$$s $(BIN)/pytest -q index.md chapters || exit 1; done

# Every chapter runs three times, once per base seed: the strict build executes them at the published seed 0 (a failing
# cell or assert fails it: raise_on_error in _config.yml), nbval at seeds 1 and 2. `make chapters` (nbval at seed 0)
# would repeat the build's execution, so `make test` leaves it out.
test: setup
	$(MAKE) lint
	$(MAKE) unit
	$(MAKE) book-strict
	$(MAKE) chapters-seeds
	$(MAKE) check-html
	@echo "make test: all checks passed"

# The library alone: build the wheel, install it into a fresh venv of $(PYTHON) and run the unit tests against the
# installed package (tools/test_wheel.sh). Not part of `make test`: it is a second full install of torch.
wheel-test:
	tools/test_wheel.sh $(PYTHON)

bench: setup
	$(PY) -m escape_ntk.bench --json _build/bench.json

# Stored experiment sweeps (python -m escape_ntk; README "Experiment sweeps"). Only missing records are
# computed; SWEEP_ARGS passes options, e.g. make sweeps SWEEP_ARGS="--executor dask --workers 8".
SWEEP_ARGS ?= --executor process
sweeps: setup
	for s in $$($(PY) -c 'import escape_ntk as en; print(*en.sweeps.registry())'); do \
	  $(PY) -m escape_ntk sweep $$s $(SWEEP_ARGS); done

sweep-check: setup
	$(PY) -m escape_ntk check --sample 3

# JupyterLab with the pins of requirements-lab.txt (kept out of the book's lock), opening Markdown files as
# notebooks (jupytext) rendered by jupyterlab-myst. Flags pass through: make lab ARGS="--port 9999 --no-browser".
LAB_STAMP := $(VENV)/.lab-installed
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings

$(LAB_STAMP): requirements-lab.txt $(STAMP)
	$(PY) -m pip install --quiet --retries $(PIP_RETRIES) -r requirements-lab.txt -c requirements.txt
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

# Refresh requirements.txt from a fresh resolve of the top-level needs. The header (comments and the CPU index line) is
# kept, and torch stays pinned as the CPU build (2.13.0+cpu), so the lock file says which build it is.
lock: check-python
	rm -rf _build/lockenv && $(PYTHON) -m venv _build/lockenv
	_build/lockenv/bin/pip install --quiet -r <(sed -n '/^--extra-index-url/p' requirements.txt) \
	  torch==2.13.0+cpu jupyter-book==1.0.4.post1 sphinx-mathjax-offline sphinx-proof \
	  sphinx-exercise jupytext nbval pytest pytest-xdist ipykernel numpy scipy sympy matplotlib tqdm ruff \
	  pandas dask distributed scikit-learn
	{ sed -n '1,/^--extra-index-url/p' requirements.txt; _build/lockenv/bin/pip freeze --exclude-editable; } \
	  > requirements.tmp && mv requirements.tmp requirements.txt
	@grep -q '^torch==2.13.0+cpu$$' requirements.txt || { echo "make lock: torch is not pinned as 2.13.0+cpu" >&2; exit 1; }

# Removes build outputs and caches, but keeps _build/notebooks/: the notebooks JupyterLab pairs with the chapters
# (jupytext.toml), which hold your outputs. Delete that folder yourself to drop them.
clean:
	@if [ -d _build ]; then find _build -mindepth 1 -maxdepth 1 ! -name notebooks -exec rm -rf {} +; fi
	rm -rf lib/*.egg-info .pytest_cache .ruff_cache
	@if [ -d _build/notebooks ]; then echo "make clean: kept _build/notebooks/ (your JupyterLab notebooks and outputs)."; fi
