#!/usr/bin/env bash
# A throwaway PostgreSQL (Debian's packages, 15 or newer) for the tests (issue 22): a cluster in a
# temporary folder, started for one command and removed after it, about a second.
#
#   scripts/postgres.sh <command> [args...]   starts the cluster, runs the command with the
#                                             variables below set, stops and removes the cluster
#                                             (also when the command fails or is interrupted) and
#                                             exits with the command's status
#   source scripts/postgres.sh                defines the functions only (pg_start, pg_stop,
#                                             pg_new_database, pg_portal_on_new_database; the caller
#                                             owns its EXIT trap and calls pg_stop from it)
#
# Set for the command: PG_URL (postgres://postgres@127.0.0.1:<port>/postgres, for sqlx), PGHOST
# (the socket folder), PGPORT, PGUSER and PGDATABASE (so that plain `psql`, `createdb` and
# `pg_dump` reach it), PG_BIN (the server's bin folder: initdb, pg_ctl).
#
# Nothing here is durable on purpose: fsync, synchronous_commit and full-page writes are off, so
# a test database costs what the work in it costs, not disk flushes. Authentication is `trust`,
# but only on the loopback address and on a socket in a folder only the cluster's user can enter.
# As root, the cluster runs as the `postgres` user (initdb refuses root); otherwise as the caller.

pg_bin_dir() {
  local dir
  # The newest installed major version; the portal needs 15 or newer.
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
    echo "postgres.sh: no PostgreSQL server found (apt-get install postgresql; scripts/setup.sh does)" >&2
    return 1
  fi
  echo "$dir"
}

# Runs a server program as the cluster's user.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_start() {
  PG_BIN="$(pg_bin_dir)" || return 1
  PG_TMP="$(mktemp -d /tmp/ra-portal-pg.XXXXXX)"
  [ "$(id -u)" = 0 ] && chown postgres: "$PG_TMP"
  chmod 0700 "$PG_TMP"
  # A free port, chosen by the kernel (the socket gets the port in its name, so it must be known).
  PGPORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  pg_as_owner "$PG_BIN/initdb" --pgdata="$PG_TMP/data" --username=postgres --auth=trust \
    --encoding=UTF8 --locale=C --no-sync --no-instructions >"$PG_TMP/initdb.log" 2>&1 || {
    cat "$PG_TMP/initdb.log" >&2
    echo "postgres.sh: initdb failed" >&2
    return 1
  }
  pg_as_owner "$PG_BIN/pg_ctl" --pgdata="$PG_TMP/data" --log="$PG_TMP/server.log" --wait --silent \
    -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PG_TMP -c fsync=off -c synchronous_commit=off \
        -c full_page_writes=off -c max_connections=300 -c shared_buffers=128MB" start || {
    cat "$PG_TMP/server.log" >&2
    echo "postgres.sh: the server did not start" >&2
    return 1
  }
  export PG_BIN PG_TMP PGPORT
  export PGHOST="$PG_TMP" PGUSER=postgres PGDATABASE=postgres
  export PG_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"
}

# A new, empty database named $1 on the running cluster (dropped first if an earlier run left it);
# prints its URL. Needs the variables pg_start exports (a command under scripts/postgres.sh has them).
pg_new_database() {
  PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >&2 || return 1
  echo "${PG_URL%/*}/$1"
}

# For a checker started under scripts/postgres.sh with --postgres: the portal it starts runs on a new
# database $1 of the cluster (exports RA_PORTAL_DATABASE). Without the cluster: says so, returns 2.
pg_portal_on_new_database() {
  [ -n "${PG_URL:-}" ] || { echo "$(basename "$0"): --postgres needs scripts/postgres.sh (PG_URL)" >&2; return 2; }
  RA_PORTAL_DATABASE="$(pg_new_database "$1")" || return 1
  export RA_PORTAL_DATABASE
}

pg_stop() {
  [ -n "${PG_TMP:-}" ] || return 0
  if [ -d "$PG_TMP/data" ]; then
    # Immediate: the cluster is thrown away, nothing in it needs a clean shutdown.
    pg_as_owner "$PG_BIN/pg_ctl" --pgdata="$PG_TMP/data" --mode=immediate --silent stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PG_TMP"
  PG_TMP=""
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  if [ "$#" = 0 ]; then
    echo "usage: scripts/postgres.sh <command> [args...]" >&2
    exit 2
  fi
  trap pg_stop EXIT
  trap 'exit 130' INT TERM
  pg_start
  status=0
  "$@" || status=$?
  exit "$status"
fi
