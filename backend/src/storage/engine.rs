//! The database engine behind the portal: SQLite (the embedded default) or PostgreSQL (issue 22).
//!
//! Every storage function takes `&mut Conn` and runs its statement through [`run!`], which
//! type-checks the statement once per engine: the SQL text is shared where both engines read it
//! the same way (`$N` placeholders, `TRUE`/`FALSE`, `RETURNING`, `ON CONFLICT`), and a statement
//! that must differ names both spellings (`if PG { … } else { … }` inside `run!`). So each rule of
//! the portal is written once; only SQL may differ per dialect.
//!
//! Transactions keep SQLite's guarantees on PostgreSQL:
//! - [`Db::begin_write`] (SQLite's `BEGIN IMMEDIATE`: one writer at a time) takes one
//!   transaction-scoped advisory lock that every writing transaction of every instance takes first,
//!   so the transactions that read, decide and write (R13's one request per row, the CRL number,
//!   challenge rounds, idempotency keys …; docs/postgres-port.md lists 23) see the database as the
//!   previous writer left it, exactly as on SQLite. Statements read committed data after the lock.
//! - [`Db::begin`] (SQLite's deferred transaction, whose reads share one snapshot and whose first
//!   write fails if another writer came first) is `REPEATABLE READ`: one snapshot, and a write
//!   that conflicts with a newer one fails instead of overwriting it.

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool, Transaction};

/// The key of the advisory lock every writing transaction takes on PostgreSQL ("RAPortal").
const WRITE_LOCK_KEY: i64 = 0x5241_506f_7274_616c;

/// The database of the portal: a pool of either engine. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Db {
    /// The embedded default: a SQLite file.
    Sqlite(SqlitePool),
    /// PostgreSQL 15 or newer, for several instances on one database.
    Postgres(PgPool),
}

/// One engine's value of a pair: what [`Conn::engine`] and [`Db::engine`] hand to [`run!`].
pub enum Engine<S, P> {
    /// The SQLite side.
    Sqlite(S),
    /// The PostgreSQL side.
    Postgres(P),
}

/// A connection of either engine, with or without an open transaction: what storage functions
/// take. [`Tx`] and [`Pooled`] deref to it.
pub struct Conn(Held);

enum Held {
    SqliteTx(Transaction<'static, Sqlite>),
    SqlitePooled(PoolConnection<Sqlite>),
    PostgresTx(Transaction<'static, Postgres>),
    PostgresPooled(PoolConnection<Postgres>),
}

/// A connection from the pool, without a transaction (each statement commits on its own).
pub struct Pooled(Conn);

/// A connection with an open transaction; rolled back when dropped without [`Tx::commit`].
pub struct Tx(Conn);

impl Db {
    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// The engine's pool, for a statement that needs no connection of its own.
    pub fn engine(&self) -> Engine<&SqlitePool, &PgPool> {
        match self {
            Db::Sqlite(pool) => Engine::Sqlite(pool),
            Db::Postgres(pool) => Engine::Postgres(pool),
        }
    }

    /// A connection for statements that each commit on their own.
    pub async fn acquire(&self) -> sqlx::Result<Pooled> {
        Ok(Pooled(Conn(match self {
            Db::Sqlite(pool) => Held::SqlitePooled(pool.acquire().await?),
            Db::Postgres(pool) => Held::PostgresPooled(pool.acquire().await?),
        })))
    }

    /// A transaction whose reads see one snapshot (see the module's comment).
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        Ok(Tx(Conn(match self {
            Db::Sqlite(pool) => Held::SqliteTx(pool.begin().await?),
            Db::Postgres(pool) => Held::PostgresTx(
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ")
                    .await?,
            ),
        })))
    }

    /// A transaction that writes: it waits until no other writer (of any instance) is in one, and
    /// then reads the latest committed data (see the module's comment).
    pub async fn begin_write(&self) -> sqlx::Result<Tx> {
        Ok(Tx(Conn(match self {
            Db::Sqlite(pool) => Held::SqliteTx(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(WRITE_LOCK_KEY)
                    .execute(&mut *tx)
                    .await?;
                Held::PostgresTx(tx)
            }
        })))
    }

    /// Closes every connection (waits for those lent out).
    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

impl Conn {
    /// The engine's connection, for [`run!`].
    pub fn engine(&mut self) -> Engine<&mut SqliteConnection, &mut PgConnection> {
        match &mut self.0 {
            Held::SqliteTx(tx) => Engine::Sqlite(&mut **tx),
            Held::SqlitePooled(conn) => Engine::Sqlite(&mut **conn),
            Held::PostgresTx(tx) => Engine::Postgres(&mut **tx),
            Held::PostgresPooled(conn) => Engine::Postgres(&mut **conn),
        }
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.0, Held::PostgresTx(_) | Held::PostgresPooled(_))
    }
}

impl Tx {
    /// Makes the transaction's writes durable and visible.
    pub async fn commit(self) -> sqlx::Result<()> {
        match self.0 .0 {
            Held::SqliteTx(tx) => tx.commit().await,
            Held::PostgresTx(tx) => tx.commit().await,
            Held::SqlitePooled(_) | Held::PostgresPooled(_) => {
                unreachable!("a Tx holds a transaction")
            }
        }
    }

    /// Drops the transaction's writes.
    pub async fn rollback(self) -> sqlx::Result<()> {
        match self.0 .0 {
            Held::SqliteTx(tx) => tx.rollback().await,
            Held::PostgresTx(tx) => tx.rollback().await,
            Held::SqlitePooled(_) | Held::PostgresPooled(_) => {
                unreachable!("a Tx holds a transaction")
            }
        }
    }
}

impl Pooled {
    /// Closes this connection instead of returning it to the pool (e.g. after changing a setting
    /// of the connection that others must not inherit).
    pub fn close_on_drop(&mut self) {
        match &mut self.0 .0 {
            Held::SqlitePooled(conn) => conn.close_on_drop(),
            Held::PostgresPooled(conn) => conn.close_on_drop(),
            Held::SqliteTx(_) | Held::PostgresTx(_) => {}
        }
    }
}

macro_rules! deref_to_conn {
    ($t:ty) => {
        impl std::ops::Deref for $t {
            type Target = Conn;
            fn deref(&self) -> &Conn {
                &self.0
            }
        }
        impl std::ops::DerefMut for $t {
            fn deref_mut(&mut self) -> &mut Conn {
                &mut self.0
            }
        }
    };
}
deref_to_conn!(Tx);
deref_to_conn!(Pooled);

/// Runs `$body` with `$c` bound to the engine's connection (or pool) of `$on` — anything with an
/// `engine()` method: [`Conn`], [`Tx`], [`Pooled`], [`Db`]. `$body` is compiled once per engine;
/// inside it the constant `PG` says which, for the statements whose SQL differs.
#[macro_export]
macro_rules! run {
    ($on:expr, $c:ident => $body:expr) => {
        match $on.engine() {
            $crate::storage::engine::Engine::Sqlite($c) => {
                #[allow(dead_code)]
                const PG: bool = false;
                $body
            }
            $crate::storage::engine::Engine::Postgres($c) => {
                #[allow(dead_code)]
                const PG: bool = true;
                $body
            }
        }
    };
}

/// What a statement without result rows did, on either engine.
#[derive(Debug, Clone, Copy)]
pub struct Done {
    rows_affected: u64,
}

impl Done {
    /// How many rows the statement inserted, changed or deleted.
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

impl From<sqlx::sqlite::SqliteQueryResult> for Done {
    fn from(r: sqlx::sqlite::SqliteQueryResult) -> Done {
        Done {
            rows_affected: r.rows_affected(),
        }
    }
}

impl From<sqlx::postgres::PgQueryResult> for Done {
    fn from(r: sqlx::postgres::PgQueryResult) -> Done {
        Done {
            rows_affected: r.rows_affected(),
        }
    }
}

/// SQL written in SQLite's spelling, with the JSON functions whose PostgreSQL twins differ only in
/// name rewritten for PostgreSQL:
/// - `json_group_array(x)` becomes `COALESCE(json_agg(x), '[]')` as text (SQLite gives `[]` for
///   no rows, and sqlx reads `String` from text only);
/// - `json_array(` becomes `json_build_array(`;
/// - `json_each(x)` (x a JSON array as text) becomes `json_array_elements_text(CAST(x AS json))`:
///   a `value` column on both; PostgreSQL's is text, so the SQL casts it where it holds numbers
///   (`CAST(value AS BIGINT)`, which SQLite reads the same).
pub fn dialect(pg: bool, sql: &str) -> String {
    if !pg {
        return sql.to_owned();
    }
    let sql = rewrite_calls(sql, "json_group_array(", |inner| {
        format!("CAST(COALESCE(json_agg({inner}), '[]') AS TEXT)")
    });
    let sql = rewrite_calls(&sql, "json_each(", |inner| {
        format!("json_array_elements_text(CAST({inner} AS json))")
    });
    sql.replace("json_array(", "json_build_array(")
        .replace("json_object(", "json_build_object(")
}

/// `sql` with every call `name…)` replaced by `rewrite` of what is between its parentheses.
fn rewrite_calls(sql: &str, name: &str, rewrite: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(sql.len() + 32);
    let mut rest = sql;
    while let Some(at) = rest.find(name) {
        out.push_str(&rest[..at]);
        let inner_start = at + name.len();
        let inner_end = inner_start + closing_paren(&rest[inner_start..]);
        out.push_str(&rewrite(&rest[inner_start..inner_end]));
        rest = &rest[inner_end + 1..];
    }
    out.push_str(rest);
    out
}

/// The byte offset of the `)` that closes a parenthesis opened just before `sql` (quotes aside:
/// the portal's JSON expressions have none with parentheses).
fn closing_paren(sql: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in sql.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return i,
            ')' => depth -= 1,
            _ => {}
        }
    }
    panic!("unbalanced parentheses in SQL: {sql}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_rewrites_json_aggregates_for_postgres_only() {
        let sql = "SELECT json_group_array(json_array(a, (b)) ORDER BY a) FROM t \
                   WHERE id IN (SELECT CAST(value AS BIGINT) FROM json_each($1))";
        assert_eq!(dialect(false, sql), sql);
        assert_eq!(
            dialect(true, sql),
            "SELECT CAST(COALESCE(json_agg(json_build_array(a, (b)) ORDER BY a), '[]') AS TEXT) \
             FROM t WHERE id IN (SELECT CAST(value AS BIGINT) FROM \
             json_array_elements_text(CAST($1 AS json)))"
        );
    }
}
