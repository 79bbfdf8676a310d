.PHONY: run test setup setup-test services lint format bench messages

# Run the portal on its embedded default (SQLite, eager Celery, dev broker, dev mailbox, demo data).
run:
	scripts/setup.sh dev
	scripts/run-dev.sh

# Run the whole test suite (PostgreSQL and Redis, real connections; browser tests included).
test:
	scripts/setup.sh test
	scripts/services.sh
	scripts/test.sh

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format:
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

messages:
	scripts/messages.sh

bench:
	scripts/setup.sh test
	scripts/services.sh
	.venv/bin/python -m bench
