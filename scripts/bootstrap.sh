#!/usr/bin/env bash
# Idempotent installer shared by scripts/run.sh and scripts/test.sh.
#
#   1. Debian packages (only the missing ones; `apt-get update` only when something is missing)
#   2. uv (pip-installed for python3 when absent)
#   3. .venv (Python 3.11) synced exactly to requirements.lock
#
# Safe to run any number of times; takes about a second when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[bootstrap] %s\n' "$*"; }

# --- 1. system packages ----------------------------------------------------------------------
APT_PACKAGES=(
    redis-server      # Celery broker (test.sh starts its own instance)
    fonts-wqy-zenhei  # CJK TrueType font embedded in generated PDFs
    poppler-utils     # pdftotext / pdftoppm for checking generated PDFs
    chromium          # headless browser for the end-to-end tests
    docker-compose    # only to validate docker-compose.yml (`docker-compose config`), no engine needed
    gettext           # msgfmt for `manage.py compilemessages`
)
# test.sh runs its own PostgreSQL 15 server from these binaries.
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
[[ -x "$PG_BIN/initdb" ]] || APT_PACKAGES+=(postgresql-15)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    SUDO=()
    [[ "$(id -u)" == 0 ]] || SUDO=(sudo)
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq
    # --no-install-recommends: docker-compose would otherwise pull in the whole Docker engine.
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- 2. uv -----------------------------------------------------------------------------------
if command -v uv >/dev/null 2>&1; then
    UV=(uv)
elif python3 -m uv --version >/dev/null 2>&1; then
    UV=(python3 -m uv)
else
    log "installing uv"
    python3 -m pip install --quiet --root-user-action=ignore uv
    UV=(python3 -m uv)
fi
# Never try to download a Python build; use the machine's python3 (3.11).
export UV_PYTHON_DOWNLOADS=never
export UV_LINK_MODE="${UV_LINK_MODE:-copy}"

# --- 3. virtualenv ---------------------------------------------------------------------------
if ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1; then
    if [[ -e .venv ]]; then
        log "existing .venv is not a working Python 3.11 environment; recreating it"
        rm -rf .venv
    fi
    log "creating .venv"
    "${UV[@]}" venv --quiet --python python3 .venv
fi

# `uv pip sync` makes .venv match the lock exactly (installs, upgrades and removes); when nothing
# changed it only audits the installed packages, without touching the network.
"${UV[@]}" pip sync --quiet --python .venv/bin/python requirements.lock
