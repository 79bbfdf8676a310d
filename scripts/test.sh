#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, migrations, the compose file, then pytest on
# PostgreSQL and Redis (real connections), including the browser tests, and again on SQLite.
# With arguments (scripts/test.sh tests/koppeling -x) only the PostgreSQL pass runs, unless SQLITE_PASS=1.
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
echo "==> pytest (PostgreSQL)"
.venv/bin/pytest "$@"
if [ "$#" -eq 0 ] || [ "${SQLITE_PASS:-}" = "1" ]; then
  # The same suite on SQLite, the database of `make run`: every statement the portal runs must work
  # there too (tests marked `postgresql` need PostgreSQL itself and are skipped; the browser tests
  # run once, above, where tests/e2e/test_embedded_default.py drives `make run` itself).
  sqlite_dir="$(mktemp -d)"
  trap 'rm -rf "$sqlite_dir"' EXIT
  echo "==> pytest (SQLite)"
  DATABASE_URL="sqlite:///$sqlite_dir/mijnduo.sqlite3" .venv/bin/pytest -m "not e2e" "$@"
fi
