# The two commands: `make demo` (the main job on embedded defaults) and `make test` (everything CI checks).
# Both bootstrap .venv from nothing with the locked dependencies (requirements.lock).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed

.PHONY: install services demo demo-stop test check lint typecheck pytest bench lock clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	# Bytecode compiled at install: without it (uv does not compile; PYTHONDONTWRITEBYTECODE stops Python from
	# caching what it compiles), every `dsr` command recompiles SQLAlchemy and pydantic and takes seconds.
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q models connectors detection reports proofs flows deployments dsr simulation erasure retention services
	# Prefect's database, migrated once here: a new Prefect home starts from a copy (models/prefect_seed.py).
	$(BIN)/python -m deployments.prefect_seed
	touch $(STAMP)

# The system packages of the service-backed tests (the list .ci/run installs in CI); needs root (apt-get).
services:
	@[ "$$(id -u)" = 0 ] || { echo "make services installs system packages with apt-get: run it as root (sudo make services)"; exit 1; }
	.ci/install-services

demo: $(STAMP)
	$(BIN)/python -m dsr.demo

demo-stop: $(STAMP)
	$(BIN)/python -m dsr.demo --stop

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.ssh_fanout
	$(BIN)/python -m benchmarks.fleet
	$(BIN)/python -m benchmarks.cli_start

lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .dsr .pytest_cache .mypy_cache .ruff_cache
