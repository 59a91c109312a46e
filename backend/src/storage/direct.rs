//! Statements run on a connection's SQLite handle directly, for writes of many rows at once.
//!
//! sqlx runs every statement on the connection's own worker thread and hands parameters and
//! results over one at a time; for a few statements per request that costs nothing, but a CSV
//! upload of 100 000 rows writes some 330 000 records (SPEC P1). Batching them into one statement
//! per table with a JSON array parameter (`json_each`) spared the hand-overs but made SQLite parse
//! and pick apart the JSON, which was slower than the same inserts from bound parameters
//! (bench/results.md, "Figures behind the code"). Here multi-row `INSERT … VALUES` statements take
//! their values as bound parameters.
//!
//! sqlx lends out the handle for that ([`sqlx::SqliteConnection::lock_handle`]): while the lock is
//! held its worker thread makes no call on the connection, and the statements run inside whatever
//! transaction the connection has open. `rusqlite` (linked against the same `libsqlite3-sys`)
//! wraps the borrowed handle without taking it over, so the statements themselves are safe code.

use sqlx::error::{DatabaseError, ErrorKind};

use super::Conn;

/// Runs `work` on the SQLite handle of `conn`, inside the transaction `conn` has open (if any).
///
/// The calls block the thread: they run in [`crate::blocking::run`].
pub(crate) async fn with_handle<R>(
    conn: &mut Conn,
    work: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<R>,
) -> sqlx::Result<R> {
    let super::Engine::Sqlite(conn) = conn.engine() else {
        return Err(sqlx::Error::Configuration(
            "SQLite's handle asked for on a PostgreSQL connection".into(),
        ));
    };
    let mut locked = conn.lock_handle().await?;
    let handle = locked.as_raw_handle();
    // SAFETY: the handle stays valid and unused by sqlx's worker for as long as `locked` lives,
    // which outlives `db` (dropped at the end of this block; a handle from `from_handle` is not
    // closed on drop). `work` runs synchronously on this thread, so the lock cannot be released
    // half-way, e.g. by the caller's future being dropped.
    let result = {
        let db =
            unsafe { rusqlite::Connection::from_handle(handle.as_ptr()) }.map_err(into_sqlx)?;
        crate::blocking::run(|| work(&db))
    };
    drop(locked);
    result.map_err(into_sqlx)
}

/// Most records one statement of [`insert_all`] writes. Each statement is a statement
/// transaction of its own, and at its start SQLite's FTS5 flushes the search index's pending terms
/// as a new segment: one record per statement made the 100 000 search texts of P1 take many
/// seconds (and wrote a statement journal per record). 500 records of up to 13 columns stay well
/// under SQLite's 32 766 parameters.
const RECORDS_PER_STATEMENT: usize = 500;

/// Runs `insert` (`INSERT INTO t (columns)`) with `VALUES` for every record: `placeholders` is
/// one record's tuple, e.g. `(?, ?, 1)`, with one `?` per value of a record, in order.
pub(crate) fn insert_all<const N: usize>(
    db: &rusqlite::Connection,
    insert: &str,
    placeholders: &str,
    records: &[[&dyn rusqlite::ToSql; N]],
) -> rusqlite::Result<()> {
    let sql = |count: usize| format!("{insert} VALUES {}", vec![placeholders; count].join(", "));
    // Every full chunk runs the same prepared statement; only the last may be shorter.
    let mut full = None;
    for chunk in records.chunks(RECORDS_PER_STATEMENT) {
        let values: Vec<&dyn rusqlite::ToSql> = chunk.iter().flatten().copied().collect();
        if chunk.len() == RECORDS_PER_STATEMENT {
            let statement = match &mut full {
                Some(statement) => statement,
                None => full.insert(db.prepare(&sql(chunk.len()))?),
            };
            statement.execute(values.as_slice())?;
        } else {
            db.prepare(&sql(chunk.len()))?.execute(values.as_slice())?;
        }
    }
    Ok(())
}

/// A failed direct statement as the [`sqlx::Error`] the storage functions return, with its kind
/// (a UNIQUE violation stays one for [`super::is_unique_violation`]).
fn into_sqlx(err: rusqlite::Error) -> sqlx::Error {
    sqlx::Error::Database(Box::new(DirectError(err)))
}

#[derive(Debug)]
struct DirectError(rusqlite::Error);

impl std::fmt::Display for DirectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DirectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl DatabaseError for DirectError {
    fn message(&self) -> &str {
        match &self.0 {
            rusqlite::Error::SqliteFailure(_, Some(message)) => message,
            _ => "direct SQLite statement failed",
        }
    }

    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        self.0
            .sqlite_error()
            .map(|e| e.extended_code.to_string().into())
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        use rusqlite::ffi;
        match self.0.sqlite_error().map(|e| e.extended_code) {
            Some(ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY) => {
                ErrorKind::UniqueViolation
            }
            Some(ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => ErrorKind::ForeignKeyViolation,
            Some(ffi::SQLITE_CONSTRAINT_NOTNULL) => ErrorKind::NotNullViolation,
            Some(ffi::SQLITE_CONSTRAINT_CHECK) => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}
