//! The CRL (R15): signed inside a revocation's transaction, served, and kept fresh.

use std::future::Future;
use std::time::Duration;

use domain::certificate::{crl_is_due, crl_next_update};

use super::read::stored_reason;
use super::Crl;
use crate::ca::{CertificateAuthority, CrlEntry, CrlRequest};
use crate::clock;
use crate::error::ServiceError;
use crate::portal::Portal;
use crate::storage::certificates::{self as store, CrlRecord};
use crate::storage::Conn;

/// How often [`run_crl_refresher`] looks whether the CRL is due (R15: re-signed at least daily).
const CRL_CHECK_INTERVAL: Duration = Duration::from_secs(3600);

/// Signs and stores a new CRL at `now`, inside the caller's transaction: the next CRL number,
/// every revoked certificate not yet expired, `nextUpdate` 7 days ahead (R15).
pub(super) async fn sign_crl(
    conn: &mut Conn,
    ca: &dyn CertificateAuthority,
    now: i64,
) -> Result<CrlRecord, ServiceError> {
    let number = store::find_crl(conn)
        .await?
        .map_or(1, |previous| previous.crl_number.saturating_add(1));
    let entries = store::list_revoked_unexpired(conn, now)
        .await?
        .into_iter()
        .map(|r| {
            Ok(CrlEntry {
                reason: stored_reason(r.reason.as_deref())?,
                serial: r.serial,
                revoked_at: r.revoked_at,
            })
        })
        .collect::<Result<Vec<_>, ServiceError>>()?;
    let request = CrlRequest {
        number: u64::try_from(number).unwrap_or(1),
        this_update: now,
        next_update: crl_next_update(now),
        entries,
    };
    let der = ca.sign_crl(&request).await?;
    let record = CrlRecord {
        crl_number: number,
        this_update: request.this_update,
        next_update: request.next_update,
        der,
    };
    store::put_crl(conn, &record).await?;
    tracing::info!(
        crl_number = number,
        entries = request.entries.len(),
        "CRL signed"
    );
    Ok(record)
}

/// R15: the CRL to serve. Signs the first one if there is none, and a new one when the stored
/// one is due (about a day old); otherwise the stored one, without taking the write lock.
pub async fn current_crl(portal: &Portal) -> Result<Crl, ServiceError> {
    let now = clock::now();
    {
        let mut conn = portal.pool.acquire().await?;
        if let Some(crl) = store::find_crl(&mut conn).await? {
            if !crl_is_due(crl.this_update, now) {
                return Ok(crl.into());
            }
        }
    }
    let mut tx = portal.pool.begin_write().await?;
    // Another request may have signed it while this one waited for the lock.
    if let Some(crl) = store::find_crl(&mut tx).await? {
        if !crl_is_due(crl.this_update, now) {
            return Ok(crl.into());
        }
    }
    let crl = sign_crl(&mut tx, portal.ca.as_ref(), now).await?;
    tx.commit().await?;
    Ok(crl.into())
}

/// Keeps the CRL fresh until `shutdown` completes: signs one at start if due, then looks every
/// hour, so it is re-signed at least daily (R15) even when nothing is revoked. A failure is
/// logged and tried again at the next look; the stored CRL stays valid for days.
pub async fn run_crl_refresher(portal: Portal, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut every_hour = tokio::time::interval(CRL_CHECK_INTERVAL);
    every_hour.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!("CRL refresher started");
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = every_hour.tick() => {}
        }
        match current_crl(&portal).await {
            Ok(crl) => tracing::debug!(
                crl_number = crl.number,
                next_update = crl.next_update,
                "CRL checked"
            ),
            Err(e) => tracing::error!(error = ?e, "could not re-sign the CRL"),
        }
    }
    tracing::info!("CRL refresher stopped");
}
