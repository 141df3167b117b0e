# Two set-up commands on a fresh machine with Python 3.11 and make: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.local/dagster_home
export SPARK_LOCAL_IP ?= 127.0.0.1

.PHONY: install test-tools demo test dev bench lint lock clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# The lock file pins every package; uv (itself pinned) installs it exactly.
$(STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip install --python $(BIN)/python --quiet -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps -e .
	touch $(STAMP)

# The Dagster instance lives in .local/dagster_home; make dev and make demo write its dagster.yaml
# (PostgreSQL storage, run queue, pools: airbyte_platform/local_services/instance.py).
install: $(STAMP)
	@mkdir -p $(DAGSTER_HOME)

# Two tests need Debian tools: the browser test drives chromium, the alert-rule test runs promtool
# (package prometheus, whose service is not started). Installed where we may (root with apt-get), else
# those tests are skipped and say why.
test-tools:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || \
	{ if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium, chromium-driver and prometheus (promtool) for the browser and alert-rule tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
	      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null) \
	    || echo "could not install them: the browser and alert-rule tests will be skipped"; \
	  else echo "no chromium/promtool and not root with apt-get: the browser and alert-rule tests will be skipped"; fi; }

demo: install
	$(BIN)/python -m airbyte_platform.demo

test: install test-tools
	$(BIN)/ruff check airbyte_platform airbyte_platform_tests bench
	$(BIN)/lint-imports --no-logo --cache-dir .local/import-linter
	@echo "== lane 1: unit and integration tests against real local services"
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q -rs -m "not slow and not e2e" --durations=10
	@echo "== lane 2: end to end (make dev's topology through GraphQL, HTTP and a browser; make demo) and slow tests"
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q -rs -m "e2e or slow" --durations=10

dev: install
	$(BIN)/python -m airbyte_platform.dev

bench: install
	$(BIN)/python bench/run_all.py

lint: install
	$(BIN)/ruff check airbyte_platform airbyte_platform_tests bench
	$(BIN)/ruff format --check airbyte_platform airbyte_platform_tests bench

# Re-resolve the lock file after editing pyproject.toml dependencies.
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv==0.13.8
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra local --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .local
