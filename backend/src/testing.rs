//! Helpers for tests: a real SQLite file per test, migrated, removed with the guard.

use sqlx::SqlitePool;
use tempfile::TempDir;

/// A fresh, migrated database in its own temporary folder. Keep the value alive for the test's length.
pub struct TestDb {
    /// The pool over the test's database file.
    pub pool: SqlitePool,
    /// Keeps the folder (and the file) until the test ends.
    pub dir: TempDir,
}

/// Makes a new database file for one test.
pub async fn fresh_db() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let pool = crate::db::open(&dir.path().join("portal.sqlite3"))
        .await
        .expect("open test database");
    TestDb { pool, dir }
}
