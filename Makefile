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

# The Cypher lint runs inside the suite (tests/graph/test_cypher.py), not a second time here.
test: lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV)
