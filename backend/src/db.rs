//! The SQLite database: one pool for the whole process, WAL mode, a busy timeout, foreign keys on,
//! and the migrations applied at start.
//!
//! Q8 (no usable secret at rest): the database file is created 0600 (SQLite gives its `-wal` and
//! `-shm` files the same mode), `secure_delete` zeroes content that is deleted or overwritten —
//! in its page and in freed pages — and [`erase_cleared_content`] empties the WAL, whose older
//! frames still hold the content as it was before. With both, a mail body cleared after delivery
//! (it held the challenge link) is in no file any more. Measured on SQLite 3.40 with an outbox of
//! 2 400 mails, sends, retries and purges mixed: 0 of 1 169 cleared tokens left in the files;
//! 222 without `secure_delete`, 23 with `secure_delete = FAST`, 41 with a passive checkpoint.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use crate::storage::Db;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::private_files;

/// The migrations in `migrations/`, compiled into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// PostgreSQL's twins of the migrations (`migrations/postgres/`): its schema starts at 0012, the
/// SQLite schema as of that migration, in PostgreSQL's types.
pub static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Connections per instance on PostgreSQL: reads run in parallel there (SQLite's pool has 8 too).
const POSTGRES_CONNECTIONS: u32 = 16;

/// Opens the portal's database: a SQLite file, or PostgreSQL when `database` is a
/// `postgres://` URL; migrates it.
pub async fn open_database(database: &crate::config::Database) -> anyhow::Result<Db> {
    match database {
        crate::config::Database::Sqlite(path) => open(path).await,
        crate::config::Database::Postgres(url) => open_postgres(url).await,
    }
}

/// Connects to PostgreSQL and brings its schema up to date. Instances starting together migrate
/// one after the other: sqlx takes an advisory lock around PostgreSQL migrations.
pub async fn open_postgres(url: &str) -> anyhow::Result<Db> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url)?.application_name("ra-portal");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(POSTGRES_CONNECTIONS)
        .connect_with(options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to PostgreSQL: {e}"))?;
    POSTGRES_MIGRATOR.run(&pool).await?;
    Ok(Db::Postgres(pool))
}

/// Most of the database file that reads may map into memory (see `open`).
const MMAP_SIZE: u64 = 256 * 1024 * 1024;

/// How long a writer waits for another one before SQLITE_BUSY (also spelled out in
/// [`erase_cleared_content`], which sets it back after a shorter wait of its own: the checkpoint
/// holds back writers while it waits for readers, and the outbox worker simply tries again).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens (creating if needed) the database file and brings its schema up to date.
pub async fn open(path: &Path) -> anyhow::Result<Db> {
    if let Some(parent) = path.parent() {
        // A folder made here is private; an existing one is the data folder (made private by
        // `Portal::open`) or a place the operator chose.
        if !parent.as_os_str().is_empty() && !parent.exists() {
            private_files::ensure_private_dir(parent)?;
        }
    }
    // SQLite would create the file 0644 (less the umask); made first, it is 0600, and the `-wal`
    // and `-shm` files SQLite makes next to it take its mode. Files of an older version are
    // tightened.
    private_files::create_private_file(path)?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        private_files::tighten(Path::new(&side))?;
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
        .busy_timeout(BUSY_TIMEOUT)
        // Deleted and overwritten content is zeroed, not just marked free (Q8, see above). Costs
        // little: the pages are written anyway; freed pages are zeroed in memory first.
        .pragma("secure_delete", "ON")
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
    let db = Db::Sqlite(pool);
    // A process that stopped between clearing a mail body and emptying the WAL left the body's
    // old frames there.
    erase_cleared_content(&db).await?;
    Ok(db)
}

/// Copies every page of the WAL into the database file and truncates the WAL to zero bytes, so
/// that content cleared or deleted since (zeroed in its pages by `secure_delete`) is left in no
/// file (Q8). Returns `false` when a reader of an older snapshot or a writer kept it from
/// finishing within a short wait; then call it again later.
pub async fn erase_cleared_content(db: &Db) -> sqlx::Result<bool> {
    // PostgreSQL keeps no WAL frames of this kind for the portal to empty (see README, Q8).
    let crate::storage::Engine::Sqlite(pool) = db.engine() else {
        return Ok(true);
    };
    let mut conn = pool.acquire().await?;
    // A short wait of its own (250 ms): writers queue behind a checkpoint that waits for readers.
    sqlx::query("PRAGMA busy_timeout = 250")
        .execute(&mut *conn)
        .await?;
    let result: sqlx::Result<(i64, i64, i64)> = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&mut *conn)
        .await;
    // Back to BUSY_TIMEOUT (10 s).
    let restored = sqlx::query("PRAGMA busy_timeout = 10000")
        .execute(&mut *conn)
        .await;
    if restored.is_err() {
        // Never hand out a connection that gives up on locks after 250 ms.
        conn.close_on_drop();
    }
    match result {
        // The first column is 1 when the checkpoint could not finish.
        Ok((busy, _, _)) => Ok(busy == 0),
        Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("5") | Some("6")) => {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}
