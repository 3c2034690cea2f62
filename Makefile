# One-command setup: every target creates .venv if missing and installs the project into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# pytest-xdist workers: twice the cores, as most tests wait on real time (whole plans, subprocesses, radio
# round trips) rather than compute; --dist loadgroup keeps an xdist_group (a kept bench, the shared 750 kB
# transfer) on one worker. `make test PYTEST_ARGS="-m 'not slow'"` leaves the slow ones out.
# Bytecode is cached (__pycache__ is ignored by git) even where PYTHONDONTWRITEBYTECODE is set: the suite
# starts well over a hundred Python processes, and each would compile the rig (and each worker rewrite
# the tests) again (tests/plan: 13 % of its CPU).
WORKERS ?= $(shell echo $$(( 2 * $$(nproc 2>/dev/null || echo 1) )))
PYTEST_ARGS ?=
test: $(STAMP)
	$(BIN)/python -m tests.interop.node_env  # zigbee-herdsman for tests/interop (npm ci, once per lock file)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup $(PYTEST_ARGS) tests testplans

demo: $(STAMP)
	$(BIN)/rig demo

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
