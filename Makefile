# Watch Party: `make run` serves the product with embedded defaults; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format system-deps services image deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

deps: $(STAMP)

system-deps:
	bash scripts/install-system-deps.sh

## run: install what is missing, upgrade the schema, serve on http://localhost:8000 (SQLite, in-process, local rooms)
run: system-deps deps
	$(BIN)/watchparty migrate
	$(BIN)/watchparty serve --host $(HOST) --port $(PORT) --no-migrate

services:
	bash scripts/start-services.sh

image:
	bash browser-image/build.sh

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: deps
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## test: install everything, start PostgreSQL, Redis and Docker, build the browser image, run the whole suite
test: system-deps deps services
	bash scripts/test-setup.sh
	$(MAKE) lint
	$(BIN)/pytest -q -p no:cacheprovider
