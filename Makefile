# Imagegen: `make run` starts the service on the embedded default; `make test` runs lint and the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run install install-dev test lint format migrate check-deploy bench clean docker-check

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (set PYTHON=/path/to/python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

migrate: install
	DEBUG=$${DEBUG-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG-1} $(BIN)/python manage.py createcachetable

run: migrate
	DEBUG=$${DEBUG-1} $(BIN)/python manage.py ensure_demo_user
	DEBUG=$${DEBUG-1} $(BIN)/python manage.py rundev

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

# Every benchmark in one table (also written to bench/out/results.json); e.g. BENCH_ARGS='--quick' or '--only api'.
# A PostgreSQL server answering on 127.0.0.1:5432 is benchmarked too (set BENCH_DATABASE_URL to choose another).
BENCH_ARGS ?=
BENCH_DATABASE_URL ?= $(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgres://postgres@127.0.0.1:5432/postgres)
bench: install-dev
	@command -v wrk >/dev/null || echo "wrk is not installed (apt-get install wrk): the API benchmark falls back to a Python load generator"
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python -m bench.run $(BENCH_ARGS)

# No Docker engine needed: runs the image's steps in the virtualenv, then `docker compose config` if a client exists.
docker-check: install-dev
	$(BIN)/pytest -q tests/test_dockerfile.py tests/images/test_aws_setup.py
	@if docker compose version >/dev/null 2>&1; then docker compose -f docker-compose.yml config --quiet && echo "docker compose config: ok"; \
	elif command -v docker-compose >/dev/null 2>&1; then docker-compose -f docker-compose.yml config --quiet && echo "docker-compose config: ok"; \
	else echo "no docker compose client: its config check was skipped"; fi

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
