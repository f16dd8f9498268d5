# Two commands on a fresh machine: `make train` and `make test`. `make help` lists the rest.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall only when pyproject.toml changes.
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install train test test-all lint format tensorboard sweep-report clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the project with its dev tools

train: $(STAMP) ## train on the built-in dataset (generated on first use); ARGS="key=value ..."
	$(BIN)/python scripts/train.py $(ARGS)

# Two test processes: many tests wait on subprocesses, SLURM or the disk, and the second process
# uses that time; a module's tests stay in one process (its fixtures are built once). One torch
# thread per process (inherited by the runs a test starts): the processes already fill the cores.
TEST_WORKERS ?= 2
PYTEST = OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(BIN)/python -m pytest -q -n $(TEST_WORKERS) \
	--dist loadfile
test: $(STAMP) ## the quick tier: unit and in-process tests, no slow or slurm marks (ARGS="...")
	$(PYTEST) -m "not slow and not slurm" --durations=5 $(ARGS)

test-all: $(STAMP) ## the whole suite, slow and SLURM tests included (what CI runs; ARGS="...")
	$(PYTEST) $(ARGS)

lint: $(STAMP) ## ruff check + format check
	$(BIN)/ruff check src scripts tests
	$(BIN)/ruff format --check src scripts tests

format: $(STAMP) ## ruff format and autofix
	$(BIN)/ruff format src scripts tests
	$(BIN)/ruff check --fix src scripts tests

# Every logged image (TensorBoard keeps 10 per tag unless told), served on this machine only;
# TB_HOST=0.0.0.0 shares it on the network, TB_ARGS="--port 6007" passes more options.
TB_HOST ?= 127.0.0.1
TB_ARGS ?=
tensorboard: $(STAMP) ## TensorBoard over every run in logs/ (TB_HOST=127.0.0.1, TB_ARGS="...")
	$(BIN)/tensorboard --logdir logs --samples_per_plugin images=0 --host $(TB_HOST) $(TB_ARGS)

sweep-report: $(STAMP) ## rebuild summary.csv/.md and plots of a sweep: DIR=logs/train/multiruns/<stamp>
	@test -n "$(DIR)" || { echo "usage: make sweep-report DIR=logs/train/multiruns/<stamp>"; exit 2; }
	$(BIN)/python scripts/sweep_report.py $(DIR)

clean: ## remove caches (keeps logs/, data/ and .venv)
	rm -rf .pytest_cache .ruff_cache build src/*.egg-info
	find . -name __pycache__ -type d -not -path './.venv/*' -prune -exec rm -rf {} +
