#!/usr/bin/env bash
# Install everything mijnduo needs on a fresh Debian machine: system packages, a virtualenv with the
# pinned Python packages, compiled translations. Safe to run again: it skips what is already there.
# Usage: scripts/setup.sh [dev|test]
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${1:-dev}"

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi

packages=(xmlsec1 gettext fonts-dejavu-core)
# lxml and xmlsec (in-process SAML signature checks) are built from source against Debian's libxml2 and
# libxmlsec1, so both use the same libxml2 (their wheels bundle different ones: "lxml & xmlsec libxml2
# library version mismatch").
packages+=(gcc pkg-config python3-dev libxml2-dev libxslt1-dev libxmlsec1-dev libxmlsec1-openssl)
if [ "$PROFILE" = "test" ]; then packages+=(chromium docker-compose poppler-utils wrk); fi
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)-$PROFILE"
if [ ! -f "$stamp" ]; then
  echo "==> pip install"
  .venv/bin/pip install -q --upgrade pip
  if [ "$PROFILE" = "test" ]; then extras="[test,e2e]"; else extras=""; fi
  .venv/bin/pip install -q --no-binary lxml,xmlsec -e ".$extras"
  touch "$stamp"
fi
if ! .venv/bin/python -c "import lxml.etree, xmlsec" 2>/dev/null; then
  # An lxml wheel installed earlier brings its own libxml2: rebuild both against the system's.
  echo "==> rebuilding lxml and xmlsec against the system libxml2"
  pins=$(grep -oE '"(lxml|xmlsec)==[^"]+"' pyproject.toml | tr -d '"')
  # shellcheck disable=SC2086
  .venv/bin/pip install -q --force-reinstall --no-deps --no-binary lxml,xmlsec $pins
fi

echo "==> compiling translations"
scripts/messages.sh
