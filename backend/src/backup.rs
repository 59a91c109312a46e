//! Online backup of the SQLite database: a consistent copy taken while the portal runs.
//!
//! A file copy of a live WAL database can catch the main file and the WAL at different moments and
//! restore into a corrupt or outdated database. `VACUUM INTO` reads inside one transaction (a
//! snapshot: writers go on meanwhile) and writes a compact, self-contained file with no WAL.

use std::path::Path;

use crate::storage::Db;

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// Size of the backup file in bytes.
    pub bytes: u64,
}

/// Why a backup was not made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The target exists: a backup never overwrites a file.
    #[error("{0} exists already; choose a new file name (a backup never overwrites)")]
    Exists(String),
    /// The target's folder does not exist.
    #[error("the folder of {0} does not exist")]
    NoFolder(String),
    /// SQLite could not write it.
    #[error("the backup could not be written: {0}")]
    Database(#[from] sqlx::Error),
    /// The portal runs on PostgreSQL, whose own tools make its backups.
    #[error("the portal's database is PostgreSQL: back it up with pg_dump (README, \"Backups\")")]
    Postgres,
    /// The file could not be read back.
    #[error("the backup could not be checked: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes a consistent copy of the database behind `pool` to `target`, which must not exist.
pub async fn backup_database(pool: &Db, target: &Path) -> Result<BackupReport, BackupError> {
    let shown = target.display().to_string();
    if target.exists() {
        return Err(BackupError::Exists(shown));
    }
    if let Some(folder) = target.parent() {
        if !folder.as_os_str().is_empty() && !folder.is_dir() {
            return Err(BackupError::NoFolder(shown));
        }
    }
    let crate::storage::engine::Engine::Sqlite(pool) = pool.engine() else {
        return Err(BackupError::Postgres);
    };
    sqlx::query("VACUUM INTO $1")
        .bind(target.to_string_lossy().into_owned())
        .execute(pool)
        .await?;
    Ok(BackupReport {
        bytes: std::fs::metadata(target)?.len(),
    })
}
