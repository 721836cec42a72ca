# Two commands for a newcomer: `make lab` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
WORKERS ?= auto

.PHONY: lab test unit notebooks lint bench e2e fuzz-reload clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[notebooks,dev]'
	touch $(STAMP)

lab: $(STAMP)
	cd notebooks && ../$(VENV)/bin/jupyter lab --ip=127.0.0.1 00_quickstart.ipynb

test: $(STAMP) lint unit notebooks

lint: $(STAMP)
	$(PY) -m ruff check kernel_ext tests bench
	$(PY) -m ruff format --check kernel_ext tests bench

unit: $(STAMP)
	$(PY) -m pytest -n $(WORKERS) tests

notebooks: $(STAMP)
	$(PY) -m pytest -n $(WORKERS) --nbmake notebooks/

# Long differential run of hot reload against fresh runs (tests/test_reload_fuzz.py): prints
# sequences, steps and the divergences found. KERNEL_EXT_FUZZ_EXAMPLES / _STEPS change its size.
fuzz-reload: $(STAMP)
	KERNEL_EXT_FUZZ=long $(PY) -m pytest tests/test_reload_fuzz.py -s -q -W ignore::DeprecationWarning

e2e: $(STAMP)
	$(PY) -m pytest -m e2e tests/e2e

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
