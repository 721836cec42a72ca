# Two commands for a newcomer: `make lab` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Two pytest workers per core: most tests wait on a kernel, a server or a subprocess, so one
# per core leaves a quarter of the CPU idle (measured: 367 s with 2 workers, 304 s with 4).
WORKERS ?= $(shell $(PYTHON) -c "import os; print(2 * (os.cpu_count() or 1))")
# Every extra: JupyterLab, the notebooks' packages, the test suite, the linters.
EXTRAS := lab,notebooks,test,dev
# tools/install.sh uses uv when it is on PATH or installable from the package index, else pip.
# `make lab INSTALLER=pip` forces pip.
INSTALLER ?= auto
# More arguments for `jupyter lab` (the tests pass a port, a token and --no-browser).
LAB_ARGS ?=

.PHONY: lab test unit notebooks lint bench soak e2e fuzz-reload flake-hunt clean

$(STAMP): pyproject.toml
	@PYTHON=$(PYTHON) INSTALLER=$(INSTALLER) sh tools/install.sh $(VENV) -e '.[$(EXTRAS)]'
	touch $(STAMP)

# JupyterLab refuses to start as root without --allow-root; root is the default user in
# containers, devcontainers and many cloud shells, so pass it there, and say so.
lab: $(STAMP)
	@if [ "$$(id -u)" = 0 ]; then \
		echo "make lab: running as root, so JupyterLab starts with --allow-root"; root=--allow-root; \
	else root=; fi; \
	cd notebooks && exec ../$(VENV)/bin/jupyter lab --ip=127.0.0.1 $$root $(LAB_ARGS) 00_quickstart.ipynb

# One pytest run for the unit tests and the notebooks: xdist balances both across the workers
# (two runs would each end on one worker while the other idles). Long tests start first
# (tests/conftest.py orders them); worksteal hands a worker that is done part of another's queue.
test: $(STAMP) lint
	@$(PY) -m compileall -q kernel_ext tests bench >/dev/null  # each kernel would compile them anew
	$(PY) -m pytest -n $(WORKERS) --dist worksteal tests --nbmake notebooks/

# ruff, then mypy on kernel_ext/ (configured in pyproject.toml).
lint: $(STAMP)
	$(PY) -m ruff check kernel_ext tests bench tools
	$(PY) -m ruff format --check kernel_ext tests bench tools
	$(PY) -m mypy

unit: $(STAMP)
	$(PY) -m pytest -n $(WORKERS) tests

notebooks: $(STAMP)
	$(PY) -m pytest -n $(WORKERS) --nbmake notebooks/

# Long differential run of hot reload against fresh runs: generated edit sequences, then every
# FastAPI tutorial in docs_src, then every notebook under %api check. Prints sequences, steps and
# the divergences found.
# KERNEL_EXT_FUZZ_EXAMPLES / _STEPS, KERNEL_EXT_CORPUS_SAMPLE / _STEPS / _SEED change its size.
fuzz-reload: $(STAMP)
	KERNEL_EXT_FUZZ=long $(PY) -m pytest -s -q -p no:warnings -k "not oracle" \
		tests/test_reload_fuzz.py tests/test_reload_corpus.py tests/test_reload_notebooks.py

e2e: $(STAMP)
	$(PY) -m pytest -m e2e tests/e2e

bench: $(STAMP)
	$(PY) -m bench.run_all

# Opt-in, not part of `make test`: 10,000 cell edits while 20 clients send requests (bounded:
# SOAK_EDITS, SOAK_MINUTES). Prints zero failures or what failed, and the memory growth.
SOAK_EDITS ?= 10000
SOAK_MINUTES ?= 30
soak: $(STAMP)
	$(PY) -m bench.bench_soak --edits $(SOAK_EDITS) --minutes $(SOAK_MINUTES)

# Opt-in: the whole suite RUNS times with a busy process per core beside it; lists every test
# that failed once (a test that only passes on a quiet machine is flaky).
RUNS ?= 3
flake-hunt: $(STAMP)
	$(PY) tools/flake_hunt.py --runs $(RUNS)

clean:
	rm -rf $(VENV) build *.egg-info
