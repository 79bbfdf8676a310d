#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, migrations, the compose file, then pytest on
# PostgreSQL and Redis (real connections), including the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export DJANGO_ENV=test
echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> migrations are complete"
.venv/bin/python manage.py makemigrations --check --dry-run
echo "==> docker-compose.yml"
DJANGO_SECRET_KEY=compose-config-check docker-compose -f docker-compose.yml config -q
echo "==> pytest"
exec .venv/bin/pytest "$@"
