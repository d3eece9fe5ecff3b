# The two set-up commands: `make run` and `make test` work on a fresh machine.
# Everything Python comes from requirements.lock (exact versions with their hashes), so a release
# published on PyPI tomorrow cannot change what a clean clone installs; `make lock` refreshes it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock
HOST   ?= 127.0.0.1
PORT   ?= 8080
STORE  ?= var/store

.PHONY: run test build serve install lock system-deps node-deps clean bench bench-deps

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

## re-resolve every dependency (all extras) to today's newest allowed versions, with hashes
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --all-extras --generate-hashes --python-version 3.11 \
	  --no-header --quiet --annotation-style line --output-file $(LOCK)
	rm -f $(STAMP)
	$(MAKE) install

## system packages the browser, OWL API, Virtuoso and npm-tool tests need (chromium; a JDK for owlcheck, which installs the OWL API itself; Virtuoso 7's virtuoso-t and isql-vt, which tests/store/test_virtuoso.py starts through ../shared/tools/virtuoso/virtuoso.sh; node and npm); installed only when running as root (the tests install nothing: they skip, naming the package)
system-deps:
	@if [ "$$(id -u)" = 0 ]; then \
	  missing=""; \
	  command -v chromium >/dev/null 2>&1 || missing="$$missing chromium fonts-dejavu-core"; \
	  command -v javac >/dev/null 2>&1 || missing="$$missing openjdk-17-jdk-headless"; \
	  { command -v virtuoso-t && command -v isql-vt; } >/dev/null 2>&1 || missing="$$missing virtuoso-opensource-7"; \
	  command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	  if [ -n "$$missing" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  fi; \
	else echo "not root: skipping system packages (chromium, openjdk-17-jdk-headless, virtuoso-opensource-7, nodejs npm); tests needing them will skip"; fi

## the npm tools some tests use (Redocly's OpenAPI linter, axe-core), project-locally, exactly as package-lock.json pins them
NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error && touch $(NODE_STAMP); \
	else echo "npm not found: skipping the npm tools (@redocly/cli, axe-core); tests needing them will skip"; fi

node-deps: $(NODE_STAMP)

build: $(STAMP)
	$(BIN)/python -m kg_service build --store $(STORE)

run: build
	$(BIN)/python -m kg_service serve --host $(HOST) --port $(PORT) --store $(STORE)

test: $(STAMP) system-deps node-deps
	$(BIN)/python -m pytest

## the load generator the benchmarks use (wrk; without it they fall back to a slower Python client, which takes CPU from the servers), when running as root
bench-deps:
	@if command -v wrk >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk; \
	else echo "not root: wrk not installed (apt-get install wrk); the benchmarks use a Python client"; fi

## every benchmark, side by side, bounded (about 13 min on 2 cores; BENCH_ARGS=--quick: about 5); writes benchmarks/results.md
bench: $(STAMP) bench-deps
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var build *.egg-info node_modules
