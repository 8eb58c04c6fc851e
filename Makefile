# Two entry points for a fresh machine: `make run` and `make test`.
# Each creates .venv and installs nearstock into it when missing.
# Dependencies come pinned from requirements.lock (what the tests ran with); `make lock` rebuilds it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock
# uv resolves the lock; it lives in its own venv so it never mixes with the project's packages.
UV_VERSION := 0.13.9
LOCKTOOLS  := build/lock-tools
# `make lock` keeps the current pins where pyproject.toml still allows them;
# `make lock LOCK_FLAGS=--upgrade` moves every pin to the newest allowed release.
LOCK_FLAGS ?=

.PHONY: run test test-slow lint lock clean

$(STAMP): pyproject.toml $(LOCK)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/nearstock run instances/metro-small --out runs/demo --force
	$(BIN)/nearstock report runs/demo --html runs/demo/report.html

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check engine tests benchmarks

lock:
	test -x $(LOCKTOOLS)/bin/uv || { $(PYTHON) -m venv $(LOCKTOOLS) \
	    && $(LOCKTOOLS)/bin/python -m pip install --quiet uv==$(UV_VERSION); }
	$(LOCKTOOLS)/bin/uv pip compile pyproject.toml --extra test --extra dask --python-version 3.11 \
	    --annotation-style line --custom-compile-command "make lock" --quiet $(LOCK_FLAGS) -o $(LOCK)

clean:
	rm -rf $(VENV) runs .pytest_cache $(LOCKTOOLS)
