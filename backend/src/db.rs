//! The SQLite database: one pool for the whole process, WAL mode, a busy timeout, foreign keys on,
//! and the migrations applied at start.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

/// The migrations in `migrations/`, compiled into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Most of the database file that reads may map into memory (see `open`).
const MMAP_SIZE: u64 = 256 * 1024 * 1024;

/// Opens (creating if needed) the database file and brings its schema up to date.
pub async fn open(path: &Path) -> anyhow::Result<SqlitePool> {
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)?;
        }
    }
    let options = SqliteConnectOptions::from_str("sqlite:")?
        .filename(path)
        .create_if_missing(true)
        // WAL lets page reads go on while one writer commits.
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL is durable across process crashes in WAL mode; only a power loss may drop the last
        // commits, which the outbox design tolerates (nothing is sent before its row is committed).
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        // Writers queue behind each other instead of failing with SQLITE_BUSY.
        .busy_timeout(Duration::from_secs(10))
        // Reads go straight to the file's pages, mapped into memory, instead of through SQLite's page
        // cache: this build of SQLite (libsqlite3-sys, SQLITE_ENABLE_MEMORY_MANAGEMENT) keeps one page
        // cache for all connections behind one mutex, on which 32 concurrent table pages spent most
        // of their time (SPEC P2). Mapped pages are the kernel's file cache: they show in the
        // process's RSS as file pages (RssFile) and are given back under memory pressure.
        .pragma("mmap_size", MMAP_SIZE.to_string());
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        // sqlx pings an idle connection before handing it out, one more round trip to the
        // connection's thread per acquire; a SQLite connection to a local file does not go stale.
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}
