# Sentri's two commands: `make run` (set up everything, migrate, serve) and `make test`.
# The Dockerfile performs the same steps (venv deps from constraints.txt, web-vitals from npm,
# a Chromium, migrations on start); change them together.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
NODE_STAMP := node_modules/.installed

export FLASK_APP := app

.PHONY: run test test-fast install install-test assets chromium lint migrate screenshots clean

# Test processes side by side: most browser and server tests wait on sockets and timers more than they use a
# core, so four share the two cores of CI well (the full suite, measured: docs/testing.md).
TEST_WORKERS ?= 4
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

run: install chromium
	$(BIN)/python app.py

# Every test: real Chromium, real server processes, both databases where SENTRI_TEST_DATABASE_URL is set.
test: install-test chromium lint
	$(PYTEST) --durations=30

# What answers in a minute or two: no browser, no server process, no fuzzing (the markers in setup.cfg).
test-fast: install-test lint
	$(PYTEST) -m "not browser and not e2e and not fuzz"

install: $(STAMP) assets
install-test: $(TEST_STAMP) assets
assets: $(NODE_STAMP)

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Sentri needs Python 3.11 ($(PYTHON) not found; set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): $(VENV)/bin/python setup.cfg constraints.txt
	$(PIP) install --quiet -c constraints.txt -e .
	touch $@

$(TEST_STAMP): $(STAMP) setup.cfg constraints.txt
	$(PIP) install --quiet -c constraints.txt -e '.[test]'
	touch $@

# Browser-side libraries from the npm registry (web-vitals, injected into tested pages); never committed.
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "Sentri needs Node.js/npm to install web-vitals (apt-get install -y nodejs npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Playwright's managed Chromium when present, else the system's (its headless shell first); install Debian's when we can.
chromium: install
	@$(BIN)/python -m sentri.worker.browsers || { \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium and its headless shell with apt-get..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-headless-shell chromium >/dev/null) \
	      && $(BIN)/python -m sentri.worker.browsers; \
	  else \
	    echo "sentri: runs need a Chromium: run as root to let make install Debian's, or see the message above."; \
	  fi; }

# ruff (format and rules) on every file; mypy on the package, each module as strictly as setup.cfg's [mypy] sections say.
lint: install-test
	$(BIN)/hadolint --failure-threshold warning Dockerfile
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

# A PNG of every page (1280x800, demo data) in screenshots/, for reviewing the UI without running it.
screenshots: install-test chromium
	$(BIN)/python bench/screenshots.py screenshots

migrate: install
	$(BIN)/flask db upgrade

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache .mypy_cache
