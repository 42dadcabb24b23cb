# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PIP_FLAGS := --disable-pip-version-check --quiet -c constraints.txt

.PHONY: demo test install install-dev lint typecheck docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install $(PIP_FLAGS) -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install $(PIP_FLAGS) -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Build the demo workspace (contact-centre starter kit), print its summary and the demo
## sign-ins, and offer to serve the web app on 127.0.0.1 (asked only at an interactive
## terminal; never under CI=true).
demo: install
	$(BIN)/jobgraph demo jobgraph-demo
	@if [ -t 0 ] && [ -t 1 ] && [ "$${CI:-}" != "true" ]; then \
	  printf 'Serve the demo now on http://127.0.0.1:8000/ (Ctrl-C stops it)? [y/N] '; \
	  read answer || answer=; \
	  case "$$answer" in \
	    [yY]*) exec $(BIN)/jobgraph serve --workspace jobgraph-demo ;; \
	    *) echo "Later: $(BIN)/jobgraph serve --workspace jobgraph-demo" ;; \
	  esac; \
	fi

## Install the dev extras and run the whole test suite.
test: install-dev
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install-dev
	$(BIN)/mypy

## Regenerate docs/cli.md from the commands themselves.
docs: install
	$(BIN)/python -m jobgraph.cli.reference > docs/cli.md

clean:
	rm -rf $(VENV) jobgraph-demo .pytest_cache .mypy_cache .ruff_cache
