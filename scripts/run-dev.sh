#!/usr/bin/env bash
# Run the portal on its embedded default: SQLite, eager Celery, the dev eHerkenning broker,
# the dev mailbox at /dev/mail/ and demo data. Open http://localhost:8000/
set -euo pipefail
cd "$(dirname "$0")/.."
export DJANGO_ENV=development
# The development data (SQLite file, SAML key pairs, mailbox). Every other command (manage.py totp_now, …)
# must be given the same MIJNDUO_DEV_DIR; the settings never create it (README, "What make run gives you").
MIJNDUO_DEV_DIR="${MIJNDUO_DEV_DIR:-$HOME/.local/share/mijnduo}"
case "$MIJNDUO_DEV_DIR" in "~" | "~/"*) MIJNDUO_DEV_DIR="$HOME${MIJNDUO_DEV_DIR#\~}" ;; esac
export MIJNDUO_DEV_DIR
(umask 077 && mkdir -p "$MIJNDUO_DEV_DIR")
PORT="${PORT:-8000}"
export SITE_URL="${SITE_URL:-http://localhost:$PORT}"
.venv/bin/python manage.py migrate -v 0
.venv/bin/python manage.py demo_data
echo "==> Mijn DUO Zakelijk (development) on $SITE_URL — mails at $SITE_URL/dev/mail/"
exec .venv/bin/python manage.py runserver "0.0.0.0:$PORT"
