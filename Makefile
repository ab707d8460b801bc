# The two commands of the quick start: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install install-test lint cypherlint clean

# torch first, pinned: pip takes 2.13.0 from PyPI with its CUDA libraries (about 3 GB; there is
# no CPU-only wheel on these machines' index); letting a dependency pick torch could pull another.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0

# Re-install only when the project's dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

# The Cypher lint's npm packages go outside the package, into $VOUCHGRAPH_CYPHERLINT_HOME or the
# user's cache (one directory per lock file); the command does nothing when they are there.
install-test: $(VENV)/.installed-test
	$(BIN)/python -m graph.cypherlint --install

demo: install
	$(BIN)/vouchgraph demo

cypherlint: install-test
	$(BIN)/python -m graph.cypherlint

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint docker/Dockerfile
	$(BIN)/mypy

# The Cypher lint runs inside the suite (tests/graph/test_cypher.py), not a second time here.
test: lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV)

# The workbench, the landing page and GraphiQL: web/ built by esbuild into api/static/ (package
# data, not committed), again only when the sources or the lock file change.
WEB := web
WEB_NODE := $(WEB)/node_modules/.installed
WEB_BUILT := api/static/.built
WEB_SOURCES := $(shell find $(WEB)/src $(WEB)/pages -type f 2>/dev/null) $(WEB)/build.mjs
CHROMIUM := /usr/bin/chromium

.PHONY: web web-lint web-test web-clean chromium

$(WEB_NODE): $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEB_BUILT): $(WEB_NODE) $(WEB_SOURCES)
	cd $(WEB) && node build.mjs

# The browser tests drive Debian's Chromium (never a downloaded browser).
$(CHROMIUM):
	if [ "$$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi; \
	$$sudo apt-get update -qq && $$sudo apt-get install -y -qq --no-install-recommends chromium

web: $(WEB_BUILT)
chromium: $(CHROMIUM)
install: web
install-test: web chromium

web-lint: $(WEB_NODE)
	cd $(WEB) && node_modules/.bin/tsc --noEmit -p .

web-test: $(WEB_NODE)
	cd $(WEB) && node build.mjs --tests && node --test .test-build/

lint: web-lint
test: web-test
clean: web-clean

web-clean:
	rm -rf $(WEB)/node_modules $(WEB)/.test-build api/static
