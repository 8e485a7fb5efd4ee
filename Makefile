# Sightline: `make run` starts everything locally, `make test` is what CI runs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall only when the dependency pins or the project metadata change.
STAMP := $(VENV)/.sightline-installed

.PHONY: run test bench chaos lock clean install

run: install
	$(BIN)/sightline up

# Any non-zero pytest exit fails the target, including 5 ("no tests collected").
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared services chaos bench
	$(BIN)/pytest -p no:cacheprovider

bench: install
	$(BIN)/python -m bench

# Faults under load, then checks that nothing was lost or doubled; CHAOS_ARGS=--reduced for CI.
chaos: install
	$(BIN)/python -m chaos $(CHAOS_ARGS)

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/pip install -r requirements.lock
	$(BIN)/pip install --no-deps -e .
	touch $@

# Resolve `.[dev]` afresh in a scratch venv and pin the result (the project itself excluded).
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install '.[dev]'
	{ echo "# Pinned dependencies of sightline and its dev extra (pip install -r, then -e . --no-deps)."; \
	  echo "# Regenerate with: make lock"; \
	  .lock-venv/bin/pip freeze --exclude sightline; } > requirements.lock.tmp
	mv requirements.lock.tmp requirements.lock
	rm -rf .lock-venv

# Caches and build leftovers; keeps .venv and the local data in .sightline/.
clean:
	rm -rf .mypy_cache .ruff_cache .pytest_cache build *.egg-info .lock-venv $(STAMP)
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
