#!/usr/bin/env bash
# Checks that the SQLite migrations (migrations/*.sql) and the PostgreSQL ones (migrations/postgres/)
# make the same schema (issue 22), and that the PostgreSQL-only guards work:
#   1. both sets applied to fresh databases, in the order sqlx applies them (by version number);
#      the PostgreSQL ones as a role that is no superuser, as the portal would connect;
#   2. scripts/schema_check.py compares tables, columns, keys, constraints, enum lists, indexes and
#      triggers, and prints every difference;
#   3. one script of writes (scripts/schema-probe.sql) runs on both engines: what the triggers keep
#      (row counts, change counters, last login groups) must read the same;
#   4. refusals: the audit trail refuses UPDATE, DELETE and TRUNCATE (privileges for the portal's
#      role, triggers for a superuser), an unknown audit kind is refused, a primary address cannot
#      be edited — on both engines where the engine has the statement.
# Starts a throwaway PostgreSQL (scripts/postgres.sh) unless PG_URL is set already. Exits non-zero
# on any difference or failed refusal; prints one line with the time it took.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PG_URL:-}" ]; then
  exec bash "$here/scripts/postgres.sh" bash "${BASH_SOURCE[0]}" "$@"
fi
started=$(date +%s%N)
sqlite_dir="${SCHEMA_CHECK_SQLITE_MIGRATIONS:-$here/migrations}"
postgres_dir="${SCHEMA_CHECK_POSTGRES_MIGRATIONS:-$here/migrations/postgres}"
work="$(mktemp -d /tmp/ra-portal-schema.XXXXXX)"
trap 'rm -rf "$work"' EXIT
db="schema_check_$$"
role=ra_portal_schema_check

fail() { echo "schema-check: $*" >&2; exit 1; }

# 1. SQLite: each migration in a transaction with foreign keys on, as db.rs/sqlx run them.
for f in $(ls "$sqlite_dir"/*.sql | sort); do
  { echo "PRAGMA foreign_keys = ON; BEGIN;"; cat "$f"; echo "COMMIT;"; } \
    | sqlite3 -bail "$work/sqlite.db" || fail "SQLite migration $(basename "$f") failed"
done
# PostgreSQL: a role that owns the database but is no superuser, as the portal's would be.
psql -X -q -v ON_ERROR_STOP=1 -d postgres \
  -c "DO \$\$ BEGIN CREATE ROLE $role LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$" \
  -c "CREATE DATABASE $db OWNER $role" >/dev/null
dropdb_at_exit() { psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap dropdb_at_exit EXIT
for f in $(ls "$postgres_dir"/*.sql | sort); do
  psql -X -q -v ON_ERROR_STOP=1 -U "$role" -d "$db" --single-transaction -f "$f" >/dev/null \
    || fail "PostgreSQL migration $(basename "$f") failed"
done

# 2. The catalogs compared.
python3 "$here/scripts/schema_check.py" "$work/sqlite.db" "$db"
# The version numbers from 0013 on are the same in both folders (0012_schema.sql stands for 0001-0012),
# but for PostgreSQL's own: 16 names SQLite's implicit rowid of scim_users as a column, 17 sets how two
# trigger functions plan their joins, 18 leaves room in mailbox_rows' pages for HOT updates.
postgres_only=" 16 17 18 "
versions() { ls "$1"/*.sql | xargs -n1 basename | sed -E 's/^0*([0-9]+)_.*/\1/' | awk '$1 > 12' | sort -n \
  | while read -r v; do case "$postgres_only" in *" $v "*) ;; *) printf '%s ' "$v" ;; esac; done; }
[ "$(versions "$sqlite_dir")" = "$(versions "$postgres_dir")" ] \
  || fail "migrations after 0012 differ: SQLite $(versions "$sqlite_dir")| PostgreSQL $(versions "$postgres_dir")"

# 3. The same writes on both engines; what the triggers keep must read the same.
sqlite3 -bail "$work/sqlite.db" <"$here/scripts/schema-probe.sql" >"$work/sqlite.out" \
  || fail "the probe script failed on SQLite"
psql -X -q -At -F '|' -v ON_ERROR_STOP=1 -U "$role" -d "$db" -f "$here/scripts/schema-probe.sql" >"$work/postgres.out" \
  || fail "the probe script failed on PostgreSQL"
if ! diff -u --label SQLite --label PostgreSQL "$work/sqlite.out" "$work/postgres.out"; then
  fail "the triggers keep different values on the two engines (diff above)"
fi
[ -s "$work/sqlite.out" ] || fail "the probe script printed nothing"

# 4. Refusals. Each statement must fail with a message that contains the expected text.
refused() { # engine, expected text, statement
  local engine=$1 expected=$2 statement=$3 out
  case "$engine" in
    sqlite) out="$(sqlite3 -bail "$work/sqlite.db" "$statement" 2>&1)" && fail "SQLite accepted: $statement" ;;
    portal) out="$(psql -X -q -v ON_ERROR_STOP=1 -U "$role" -d "$db" -c "$statement" 2>&1)" \
              && fail "PostgreSQL (portal role) accepted: $statement" ;;
    superuser) out="$(psql -X -q -v ON_ERROR_STOP=1 -U postgres -d "$db" -c "$statement" 2>&1)" \
              && fail "PostgreSQL (superuser) accepted: $statement" ;;
  esac
  grep -qi -- "$expected" <<<"$out" || fail "$engine refused '$statement' with an unexpected message: $out"
}
for engine in sqlite portal superuser; do
  case "$engine" in
    sqlite) append_only="append-only" ;;
    portal) append_only="permission denied" ;;
    superuser) append_only="append-only" ;;
  esac
  refused "$engine" "$append_only" "UPDATE audit_records SET actor = 'someone else'"
  refused "$engine" "$append_only" "DELETE FROM audit_records"
  [ "$engine" = sqlite ] || refused "$engine" "$append_only" "TRUNCATE audit_records"
  refused "$engine" "primary address" "UPDATE mailbox_rows SET primary_address = 'x' || primary_address"
done
refused sqlite "CHECK constraint" "INSERT INTO audit_records (at, actor, kind) VALUES (1, 'x', 'no_such_kind')"
refused portal "audit_records_kind_check" "INSERT INTO audit_records (at, actor, kind) VALUES (1, 'x', 'no_such_kind')"
# The trail and its kinds are still as the probe left them.
[ "$(psql -X -At -U "$role" -d "$db" -c "SELECT COUNT(*) FROM audit_records WHERE actor = 'probe'")" = 2 ] \
  || fail "the audit trail changed under the refusals"

echo "schema-check: probe and refusals alike on both engines ($(( ($(date +%s%N) - started) / 1000000 )) ms)"
