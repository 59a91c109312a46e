//! The running portal's shared parts, handed to every request: configuration, database pool and
//! certification authority.

use std::sync::Arc;

use crate::storage::Db;

use crate::ca::{CertificateAuthority, EmbeddedCa};
use crate::config::Config;
use crate::mail::worker::WorkerHeartbeat;
use crate::search_matches::SearchMatches;

/// What every use case needs; cheap to clone.
#[derive(Clone, Debug)]
pub struct Portal {
    /// The one database pool of the process.
    pub pool: Db,
    /// The configuration it was started with.
    pub config: Arc<Config>,
    /// Wakes the outbox worker when a use case has queued mail.
    pub outbox: Arc<tokio::sync::Notify>,
    /// Beaten by the outbox worker while it runs; read by `/health`.
    pub outbox_heartbeat: Arc<WorkerHeartbeat>,
    /// Issues certificates and signs CRLs (SPEC §5); the embedded CA unless another takes its place.
    pub ca: Arc<dyn CertificateAuthority>,
    /// The matches of recent table searches, kept for their next pages (SPEC P2); they belong to
    /// `pool`'s database.
    pub search_matches: SearchMatches,
}

impl Portal {
    /// Opens the database (migrating it), makes the data folder and opens the CA (creating the
    /// portal's own on first start).
    pub async fn open(config: Config) -> anyhow::Result<Portal> {
        // Q8: only the portal's own user reads the database, the CA key and queued mail.
        crate::private_files::ensure_private_dir(&config.data_dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot make the data folder {} private (0700): {e}",
                config.data_dir.display()
            )
        })?;
        // Instances starting together on one data folder (issue 22) take turns here: the first
        // migrates the database and makes the CA, the others find both done. (sqlx does not lock
        // SQLite migrations, and two processes making a CA would each keep another key.)
        let turn = config.data_dir.join("startup.lock");
        let turn =
            tokio::task::spawn_blocking(move || crate::private_files::lock_exclusively(&turn))
                .await??;
        let pool = crate::db::open_database(&config.database()).await?;
        let ca = EmbeddedCa::open(&config.ca, &config.data_dir, config.base_url())?;
        drop(turn);
        Ok(Portal {
            pool,
            config: Arc::new(config),
            outbox: Arc::new(tokio::sync::Notify::new()),
            outbox_heartbeat: Arc::new(WorkerHeartbeat::new(crate::clock::now())),
            ca: Arc::new(ca),
            search_matches: SearchMatches::default(),
        })
    }
}
