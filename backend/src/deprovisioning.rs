//! IdM deprovisioning (SPEC R22): when the IdM (through SCIM) marks a user inactive or deletes
//! them, the portal ends what that person can still do here.
//!
//! First version: the interface the SCIM endpoints call, and the sessions ending at once. The
//! rows, certificates, circuit breaker and NAP mails follow in this module.

use crate::error::ServiceError;
use crate::portal::Portal;
use crate::storage::sessions::delete_sessions_of_user;

/// What one call of [`deprovision_user`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeprovisionReport {
    /// The portal user ID (OIDC `sub`) the IdM reported as gone.
    pub user_id: String,
    /// Nothing new to do: the user was deprovisioned before and nothing of theirs is left (a
    /// repeated SCIM call).
    pub already_done: bool,
    /// How many login sessions ended.
    pub sessions_ended: u64,
    /// The circuit breaker held the revocations and deactivations for an operator.
    pub held: bool,
    /// Personal rows deactivated.
    pub rows_deactivated: usize,
    /// Personal rows put on the domain's worklist as a proposal (domain setting "propose").
    pub proposed: usize,
    /// Links of the user dropped on functional rows and rows shared with others.
    pub links_dropped: usize,
    /// Certificates of the user revoked (affiliationChanged).
    pub certificates_revoked: usize,
}

/// R22: deprovisions `user_id` because the IdM says they left; `actor` (`scim:<token name>`) is
/// the audit trail's actor. Idempotent: a second call for the same leaver changes nothing new.
pub async fn deprovision_user(
    portal: &Portal,
    user_id: &str,
    actor: &str,
    now: i64,
) -> Result<DeprovisionReport, ServiceError> {
    let _ = (actor, now);
    let mut tx = portal.pool.begin_with("BEGIN IMMEDIATE").await?;
    // R22: sessions end at once. (API tokens, R21, end here too once they exist.)
    let sessions_ended = delete_sessions_of_user(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(DeprovisionReport {
        user_id: user_id.to_owned(),
        already_done: sessions_ended == 0,
        sessions_ended,
        ..DeprovisionReport::default()
    })
}
