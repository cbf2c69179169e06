# The two commands of the README, plus a few conveniences. Each bootstraps uv and the venv.
UV := ./scripts/uv
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format bench bench-sales bench-checkin bench-stream chaos

run: ## serve on SQLite (creates the database, applies migrations); `make run PORT=8080`
	$(UV) run --frozen --no-dev events-face serve --host $(HOST) --port $(PORT)

test: ## the whole suite (SQLite; PostgreSQL too when TEST_DATABASE_URL is set)
	$(UV) run --frozen pytest

lint:
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy

format:
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

bench: ## load bench on PostgreSQL (needs wrk; recreates the database `bench`): bench/README.md
	$(UV) run --frozen python -m bench.load

bench-sales: ## registrations when sales open, against two limits (PostgreSQL; recreates `salesbench`): bench/README.md
	$(UV) run --frozen python -m bench.sales

bench-checkin: ## check-in scans through two replicas (PostgreSQL; recreates `checkinbench`): bench/README.md
	$(UV) run --frozen python -m bench.checkin

bench-stream: ## the change stream's consumer against raw aiokafka, on Tansu (PostgreSQL; recreates `streambench`): bench/README.md
	$(UV) run --frozen python -m bench.stream

chaos: ## outbox faults and rolling restarts behind HAProxy (installs haproxy, wrk; restarts PostgreSQL once): docs/operations.md
	./scripts/chaos $(CHAOS_ARGS)
