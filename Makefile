# Watch Party: `make run` serves the product with embedded defaults; `make check` is the fast lane
# (lint, types, unit tests, Vitest) for the edit-test loop; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
AGENT_PORT ?= 8001

.PHONY: run test check unit test-map lint format system-deps services image deps web web-test

# The web app (frontend/): installed when its lock file changes, built when a source is newer
# than the build. Vite needs Node.js >= 20.19.
WEB_SOURCES := $(shell find frontend/src frontend/public frontend/scripts -type f 2>/dev/null) \
	frontend/index.html frontend/package.json frontend/vite.config.ts frontend/tsconfig.app.json
NODE_OK := node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

deps: $(STAMP)

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	@$(NODE_OK) || { echo "The web app needs Node.js >= 20.19 (found: $$(node --version 2>&1))"; exit 1; }
	cd frontend && npm ci --no-audit --no-fund --loglevel=error

frontend/dist/index.html: frontend/node_modules/.package-lock.json $(WEB_SOURCES)
	cd frontend && npm run build
	@touch $@

## web: build the web app if frontend/dist is missing or older than its sources
web: frontend/dist/index.html

## web-test: the web app's unit tests (Vitest)
web-test: frontend/node_modules/.package-lock.json
	cd frontend && npx vitest run

system-deps:
	bash scripts/install-system-deps.sh

## run: install what is missing, upgrade the schema, serve on http://localhost:8000 (SQLite, in-process, local rooms)
run: system-deps deps web
	$(BIN)/watchparty migrate
	$(BIN)/watchparty serve --host $(HOST) --port $(PORT) --agent-port $(AGENT_PORT) --no-migrate

services:
	bash scripts/start-services.sh

image:
	bash browser-image/build.sh

lint: deps frontend/node_modules/.package-lock.json
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd frontend && PYTHON=$(abspath $(BIN)/python) npm run --silent check:api
	cd frontend && PYTHON=$(abspath $(BIN)/python) npm run --silent check:wire
	cd frontend && npx tsc -b && npx eslint . --max-warnings 0

## unit: the unit tests alone: pure policy and the agent's parts, no browser, no container
## (tests/unit checks the migrations on PostgreSQL too: `make services` starts it)
UNIT_TESTS := tests/unit tests/agent/unit
unit: deps
	$(BIN)/pytest -q -p no:cacheprovider $(UNIT_TESTS)

## check: the fast lane for the edit-test loop (under two minutes): lint and type checks, the
## unit tests, the web app's units, the three side by side (each one's output kept together).
## Starts no service and builds no image; `make test` is the whole.
check: deps frontend/node_modules/.package-lock.json
	$(MAKE) --no-print-directory -j3 --output-sync=target lint unit web-test

## test-map: rewrite tests/MAP.md (source module -> tests); tests/unit/test_test_tree.py fails while stale
test-map: deps
	$(BIN)/python scripts/test_map.py

format: deps
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## test: install everything, start PostgreSQL, Redis and Docker, build the browser image and the web app, run the whole suite
test: system-deps deps services
	bash scripts/test-setup.sh
	$(MAKE) lint web web-test
	$(BIN)/pytest -q -p no:cacheprovider --durations=40
