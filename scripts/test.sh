#!/usr/bin/env bash
# COMMAND 2 — the full check: starts a throw-away PostgreSQL 15 and Redis on loopback, then runs
# migrations check, ruff, import-linter, mypy, docker-compose validation and pytest (in that order,
# failing fast). Extra arguments go to pytest, e.g. `scripts/test.sh -k ledger -x`.
#
# Environment:
#   LOANOPS_TEST_DIR            scratch dir for the servers (default /tmp/loanops-test-<pid>; removed on exit)
#   LOANOPS_TEST_PG_PORT        PostgreSQL port (default 55432; the next free one if taken by something else)
#   LOANOPS_TEST_REDIS_PORT     Redis port (default 56379; likewise)
#   LOANOPS_TEST_START_TIMEOUT  seconds to wait for each server (default 60)
#   PYTEST_WORKERS              pytest-xdist workers (default 2; 0 = no xdist)
#   PG_BIN                      PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
# shellcheck disable=SC2317  # cleanup() and redis_ready() are called from traps / indirectly
set -Eeuo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

step() { printf '\n==> %s\n' "$*"; }

step "bootstrap"
bash scripts/bootstrap.sh

export PATH="$ROOT/.venv/bin:$PATH"
export VIRTUAL_ENV="$ROOT/.venv"
export PYTHONUNBUFFERED=1

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_PORT="${LOANOPS_TEST_PG_PORT:-55432}"
REDIS_PORT="${LOANOPS_TEST_REDIS_PORT:-56379}"
START_TIMEOUT="${LOANOPS_TEST_START_TIMEOUT:-60}"
TEST_DIR_PREFIX=/tmp/loanops-test-
TEST_DIR="${LOANOPS_TEST_DIR:-$TEST_DIR_PREFIX$$}"
PGDATA_DIR="$TEST_DIR/pgdata"

# PostgreSQL refuses to run as root: as root, run its server tools as the `postgres` user.
if [[ "$(id -u)" == 0 ]]; then
    PG_OWNER=postgres
    as_pg() { (cd "$TEST_DIR" && runuser -u postgres -- "$@"); }
else
    PG_OWNER=
    as_pg() { (cd "$TEST_DIR" && "$@"); }
fi

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [[ "$1" =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null; }

# Stop the servers recorded in a scratch dir (by the PIDs in its pid files) and delete the dir.
stop_servers_in() {
    local dir="$1" pid
    # Only ever touch a dir that this script made (it carries the owner.pid marker).
    [[ -f "$dir/owner.pid" ]] || return 0
    if [[ -f "$dir/redis.pid" ]]; then
        pid="$(cat "$dir/redis.pid" 2>/dev/null || true)"
        if pid_alive "$pid" && grep -q redis-server "/proc/$pid/cmdline" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do pid_alive "$pid" || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    if [[ -f "$dir/pgdata/postmaster.pid" ]]; then
        pid="$(head -n 1 "$dir/pgdata/postmaster.pid" 2>/dev/null || true)"
        if pid_alive "$pid"; then
            if [[ -n "$PG_OWNER" ]]; then
                (cd "$dir" && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/pgdata" stop -m immediate -w -t 20) \
                    >/dev/null 2>&1 || true
            else
                "$PG_BIN/pg_ctl" -D "$dir/pgdata" stop -m immediate -w -t 20 >/dev/null 2>&1 || true
            fi
            if pid_alive "$pid" && grep -q postgres "/proc/$pid/cmdline" 2>/dev/null; then
                kill -9 "$pid" 2>/dev/null || true
            fi
        fi
    fi
    rm -rf "$dir"
}

# A scratch dir is stale when the test.sh that made it is gone (killed with SIGKILL, machine
# suspended, ...): its servers may still hold our ports.
is_live_run() {
    local owner
    owner="$(cat "$1/owner.pid" 2>/dev/null || true)"
    [[ "$owner" != "$$" ]] && pid_alive "$owner" && grep -q 'test\.sh' "/proc/$owner/cmdline" 2>/dev/null
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [[ "$(cat "$TEST_DIR/owner.pid" 2>/dev/null)" == "$$" ]]; then
        printf '\n==> stopping PostgreSQL and Redis, removing %s\n' "$TEST_DIR"
        stop_servers_in "$TEST_DIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- leftovers from earlier runs -------------------------------------------------------------
step "checking for servers left over from earlier runs"
for dir in "$TEST_DIR_PREFIX"[0-9]* "$TEST_DIR"; do
    [[ -f "$dir/owner.pid" ]] || continue
    if is_live_run "$dir"; then
        if [[ "$dir" == "$TEST_DIR" ]]; then
            echo "LOANOPS_TEST_DIR=$TEST_DIR is in use by a running test.sh (pid $(cat "$dir/owner.pid"))" >&2
            TEST_DIR=/nonexistent-loanops-test-dir  # keep cleanup() away from the other run's dir
            exit 1
        fi
        continue
    fi
    echo "stopping leftover servers in $dir"
    stop_servers_in "$dir"
done

pick_port() {  # $1 = wanted port, $2 = name; prints a free port (the wanted one if free)
    local port="$1"
    while port_in_use "$port"; do
        port=$((port + 1))
        if ((port > $1 + 100)); then
            echo "no free port for $2 in $1..$((port - 1))" >&2
            return 1
        fi
    done
    if [[ "$port" != "$1" ]]; then
        echo "port $1 is taken by another program; $2 uses port $port instead" >&2
    fi
    echo "$port"
}
PG_PORT="$(pick_port "$PG_PORT" PostgreSQL)"
REDIS_PORT="$(pick_port "$REDIS_PORT" Redis)"

if [[ -e "$TEST_DIR" ]] && [[ -n "$(ls -A "$TEST_DIR" 2>/dev/null)" ]]; then
    echo "LOANOPS_TEST_DIR=$TEST_DIR exists and was not made by test.sh; choose a new or empty dir" >&2
    TEST_DIR=/nonexistent-loanops-test-dir
    exit 1
fi
mkdir -p "$TEST_DIR"
echo $$ >"$TEST_DIR/owner.pid"  # from here on cleanup() may stop servers in and delete this dir
chmod 700 "$TEST_DIR"
mkdir "$TEST_DIR/tmp"
[[ -z "$PG_OWNER" ]] || chown "$PG_OWNER:" "$TEST_DIR"

random_secret() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
PG_SUPERUSER_PASSWORD="$(random_secret)"
DB_PASSWORD="$(random_secret)"

wait_for() {  # $1 = description, $2 = log file, rest = readiness command
    local what="$1" logfile="$2" deadline=$((SECONDS + START_TIMEOUT))
    shift 2
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            echo "$what did not become ready within ${START_TIMEOUT}s; last lines of $logfile:" >&2
            tail -n 40 "$logfile" >&2 || true
            return 1
        fi
        sleep 0.2
    done
}

# --- PostgreSQL ------------------------------------------------------------------------------
step "starting PostgreSQL 15 on 127.0.0.1:$PG_PORT"
printf '%s\n' "$PG_SUPERUSER_PASSWORD" >"$TEST_DIR/pg.pw"
chmod 600 "$TEST_DIR/pg.pw"
[[ -z "$PG_OWNER" ]] || chown "$PG_OWNER:" "$TEST_DIR/pg.pw"
as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres --pwfile="$TEST_DIR/pg.pw" --auth=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 --no-sync --no-instructions >"$TEST_DIR/initdb.log" 2>&1 \
    || { cat "$TEST_DIR/initdb.log" >&2; exit 1; }
rm -f "$TEST_DIR/pg.pw"
{
    echo "# loanops test.sh: throw-away server, durability traded for speed"
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $PG_PORT"
    echo "unix_socket_directories = ''"
    echo "fsync = off"
    echo "synchronous_commit = off"
    echo "full_page_writes = off"
    echo "max_connections = 200"
} >>"$PGDATA_DIR/postgresql.conf"
if as_pg "$PG_BIN/postgres" -D "$PGDATA_DIR" -C wal_compression -c wal_compression=lz4 >/dev/null 2>&1; then
    echo "wal_compression = lz4" >>"$PGDATA_DIR/postgresql.conf"
fi
as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$TEST_DIR/postgres.log" -w -t "$START_TIMEOUT" start >/dev/null \
    || { tail -n 40 "$TEST_DIR/postgres.log" >&2; exit 1; }
wait_for PostgreSQL "$TEST_DIR/postgres.log" "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"
PGPASSWORD="$PG_SUPERUSER_PASSWORD" "$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" \
    -U postgres -d postgres \
    -c "CREATE ROLE loanops LOGIN CREATEDB PASSWORD '$DB_PASSWORD'" \
    -c "CREATE DATABASE loanops OWNER loanops"

# --- Redis -----------------------------------------------------------------------------------
step "starting Redis on 127.0.0.1:$REDIS_PORT"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --daemonize yes \
    --dir "$TEST_DIR" --pidfile "$TEST_DIR/redis.pid" --logfile "$TEST_DIR/redis.log"
redis_ready() { [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }
wait_for Redis "$TEST_DIR/redis.log" redis_ready

export DATABASE_URL="postgres://loanops:$DB_PASSWORD@127.0.0.1:$PG_PORT/loanops"
export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
export REDIS_URL="$CELERY_BROKER_URL"
export DJANGO_SETTINGS_MODULE=loanops.settings.test
# Temp files of the checks and tests (media dirs, tmp_path, browser profiles) go into the scratch
# dir, so they disappear with it.
export TMPDIR="$TEST_DIR/tmp"
echo "DATABASE_URL=postgres://loanops:***@127.0.0.1:$PG_PORT/loanops"
echo "CELERY_BROKER_URL=$CELERY_BROKER_URL"

# --- checks ----------------------------------------------------------------------------------
step "makemigrations --check (no model change without a migration)"
python manage.py makemigrations --check --dry-run

step "ruff check"
ruff check .

step "ruff format --check"
ruff format --check .

step "lint-imports (import-linter layer contracts)"
lint-imports

step "mypy"
mypy .

step "docker-compose config (validation only)"
docker-compose -f docker-compose.yml config -q

if find . -path ./.venv -prune -o -path ./node_modules -prune -o -name '*.po' -path '*/locale/*' -print -quit \
    | grep -q .; then
    step "compilemessages"
    python manage.py compilemessages --ignore=.venv --ignore=node_modules --ignore=staticfiles -v 0
fi

workers="${PYTEST_WORKERS:-2}"
pytest_args=()
if [[ "$workers" != 0 ]]; then
    pytest_args=(-n "$workers" --dist loadgroup)
fi
step "pytest ${pytest_args[*]} $*"
rc=0
python -m pytest "${pytest_args[@]}" "$@" || rc=$?
exit "$rc"
