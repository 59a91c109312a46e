//! The running portal's shared parts, handed to every request: configuration and database pool.

use std::sync::Arc;

use sqlx::SqlitePool;

use crate::config::Config;

/// What every use case needs; cheap to clone.
#[derive(Clone, Debug)]
pub struct Portal {
    /// The one database pool of the process.
    pub pool: SqlitePool,
    /// The configuration it was started with.
    pub config: Arc<Config>,
    /// Wakes the outbox worker when a use case has queued mail.
    pub outbox: Arc<tokio::sync::Notify>,
}

impl Portal {
    /// Opens the database (migrating it) and makes the data folder.
    pub async fn open(config: Config) -> anyhow::Result<Portal> {
        std::fs::create_dir_all(&config.data_dir)?;
        let pool = crate::db::open(&config.database_path()).await?;
        Ok(Portal {
            pool,
            config: Arc::new(config),
            outbox: Arc::new(tokio::sync::Notify::new()),
        })
    }
}
