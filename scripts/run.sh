#!/usr/bin/env bash
# COMMAND 1 — try LoanOps on this machine with the embedded defaults:
#   SQLite file var/loanops.sqlite3 (unless DATABASE_URL is set),
#   Celery tasks in-process (unless CELERY_BROKER_URL is set),
#   settings loanops.settings.dev, demo data and demo logins from `seed_demo`.
# Serves on ${HOST:-0.0.0.0}:${PORT:-8000} in the foreground; CTRL-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh

export PATH="$PWD/.venv/bin:$PATH"
export VIRTUAL_ENV="$PWD/.venv"
export DJANGO_SETTINGS_MODULE=loanops.settings.dev
export PYTHONUNBUFFERED=1
HOST="${HOST:-0.0.0.0}"
PORT="${PORT:-8000}"
PIDFILE=var/run.pid

step() { printf '\n==> %s\n' "$*"; }

mkdir -p var

# A server left over from an earlier run of this script (killed terminal, SIGKILL, ...) would hold
# the port: stop it. Only the process recorded in var/run.pid, and only if it is our runserver.
if [[ -f "$PIDFILE" ]]; then
    old_pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    if [[ "$old_pid" =~ ^[0-9]+$ ]] && kill -0 "$old_pid" 2>/dev/null \
        && [[ "$(readlink "/proc/$old_pid/cwd" 2>/dev/null)" == "$PWD" ]] \
        && tr '\0' ' ' <"/proc/$old_pid/cmdline" 2>/dev/null | grep -q 'manage.py runserver'; then
        step "stopping the LoanOps server left over from an earlier run (pid $old_pid)"
        kill "$old_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$old_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$old_pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
fi
probe_host="$HOST"
[[ "$probe_host" == "0.0.0.0" || "$probe_host" == "::" ]] && probe_host=127.0.0.1
if (exec 3<>"/dev/tcp/$probe_host/$PORT") 2>/dev/null; then
    echo "Port $PORT on $probe_host is already in use by another program; choose another one, e.g. PORT=8001 $0" >&2
    exit 1
fi

if [[ -n "${DATABASE_URL:-}" ]]; then
    echo "Using DATABASE_URL from the environment."
else
    echo "Database: SQLite file var/loanops.sqlite3 (set DATABASE_URL to use PostgreSQL)."
fi
if [[ -n "${CELERY_BROKER_URL:-}" ]]; then
    echo "Using CELERY_BROKER_URL from the environment (start a worker: celery -A loanops worker)."
else
    echo "Background tasks run in-process (set CELERY_BROKER_URL to use Redis and a worker)."
fi

step "migrate"
python manage.py migrate --noinput

if find . -path ./.venv -prune -o -path ./node_modules -prune -o -name '*.po' -path '*/locale/*' -print -quit \
    | grep -q .; then
    step "compilemessages"
    python manage.py compilemessages --ignore=.venv --ignore=node_modules --ignore=staticfiles
fi

step "collectstatic"
python manage.py collectstatic --noinput -v 0

step "seed_demo"
python manage.py seed_demo

url_host="$HOST"
[[ "$url_host" == "0.0.0.0" || "$url_host" == "::" ]] && url_host=127.0.0.1
[[ "$url_host" == *:* ]] && url_host="[$url_host]"
cat <<EOF

============================================================
  LoanOps 已启动 / running at http://$url_host:$PORT/
  (bound to $HOST:$PORT — stop with CTRL-C)
============================================================

EOF

echo $$ >"$PIDFILE"
# exec: the server keeps this PID, so the pidfile names it and CTRL-C reaches it directly.
bind="$HOST"
[[ "$bind" == *:* ]] && bind="[$bind]"
exec python manage.py runserver "$bind:$PORT" --noreload
