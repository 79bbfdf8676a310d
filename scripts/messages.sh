#!/usr/bin/env bash
# Build the translation catalogues: every part keeps its own Dutch fragment in
# locale/nl/fragments/<part>.po (msgids are English); they are concatenated into
# locale/nl/LC_MESSAGES/django.po and compiled. Nothing generated here is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=locale/nl/LC_MESSAGES
mkdir -p "$out"
shopt -s nullglob
fragments=(locale/nl/fragments/*.po)
if [ "${#fragments[@]}" -gt 0 ]; then
  msgcat --use-first --no-wrap -o "$out/django.po" "${fragments[@]}"
  msgfmt --check-format -o "$out/django.mo" "$out/django.po"
fi
