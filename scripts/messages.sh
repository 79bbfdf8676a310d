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
  # Write to temporary files and rename: a process reading the catalogue never sees half a file.
  tmp_po="$(mktemp "$out/.django.po.XXXXXX")"
  tmp_mo="$(mktemp "$out/.django.mo.XXXXXX")"
  msgcat --use-first --no-wrap -o "$tmp_po" "${fragments[@]}"
  msgfmt --check-format -o "$tmp_mo" "$tmp_po"
  chmod 644 "$tmp_po" "$tmp_mo"
  mv -f "$tmp_po" "$out/django.po"
  mv -f "$tmp_mo" "$out/django.mo"
fi
# The JavaScript catalogue (domain djangojs, served by the admin's jsi18n view with Django's own): Dutch for
# texts of Django's admin scripts that Django's Dutch catalogue lacks, from locale/nl/fragments-js/*.po.
js_fragments=(locale/nl/fragments-js/*.po)
if [ "${#js_fragments[@]}" -gt 0 ]; then
  tmp_po="$(mktemp "$out/.djangojs.po.XXXXXX")"
  tmp_mo="$(mktemp "$out/.djangojs.mo.XXXXXX")"
  msgcat --use-first --no-wrap -o "$tmp_po" "${js_fragments[@]}"
  msgfmt --check-format -o "$tmp_mo" "$tmp_po"
  chmod 644 "$tmp_po" "$tmp_mo"
  mv -f "$tmp_po" "$out/djangojs.po"
  mv -f "$tmp_mo" "$out/djangojs.mo"
fi
