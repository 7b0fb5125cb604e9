# つなぐ (Tsunagu) — the two commands: `make run` and `make test`. Each sets itself up.
# The interpreter: the distribution's Python 3.11 when it can make a virtual environment (Debian builds it
# with profile-guided and link-time optimisation; docs/performance.md has the figures), else python3.11
# or python3 on PATH.
PYTHON ?= $(shell for p in /usr/bin/python3.11 python3.11 python3; do \
            command -v $$p >/dev/null 2>&1 && $$p -c 'import ensurepip, venv' >/dev/null 2>&1 && \
            { command -v $$p; break; }; done)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | sha256sum | cut -c1-12)
HOST   ?= 127.0.0.1
PORT   ?= 5000
export TSUNAGU_SECURE_COOKIES ?= false

.PHONY: run test test-sqlite test-postgresql bench lint install clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	@$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[test]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@$(BIN)/tsunagu init-db
	@$(BIN)/tsunagu demo
	@echo "→ http://$(HOST):$(PORT)"
	@$(BIN)/tsunagu serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	@$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$$TSUNAGU_TEST_DATABASE_URL" ]; then $(MAKE) --no-print-directory test-postgresql; \
	 else echo "TSUNAGU_TEST_DATABASE_URL is not set: skipped the PostgreSQL pass"; fi

test-sqlite: $(STAMP)
	TSUNAGU_TEST_BACKEND=sqlite $(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

test-postgresql: $(STAMP)
	TSUNAGU_TEST_BACKEND=postgresql $(BIN)/python -m pytest -p no:cacheprovider -m "not browser" $(PYTEST_ARGS)

bench: $(STAMP)
	@$(BIN)/python -m tests.bench

lint: $(STAMP)
	@$(BIN)/ruff check engine web tests
	@! grep -rnE '^\s*(from|import)\s+(flask|web)\b' engine --include=*.py || (echo "engine/ must not import flask or web"; exit 1)

clean:
	rm -rf $(VENV) instance/tsunagu.db* .pytest_cache
