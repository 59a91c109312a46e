//! The IdM's bar (SPEC R22): while the IdM says a person is inactive or has deleted them, the
//! portal refuses them a session, a certificate and a challenge confirmation.
//!
//! [`crate::deprovisioning::deprovision_user`] ends what the person could do at that moment; the
//! bar keeps them from starting again afterwards — with a local account, or through an OIDC
//! provider that still lets them in — for instance on a row whose domain chose "propose", where
//! their links stay until a NAP accepts. When the IdM re-activates the person (or creates a User
//! for them again), the bar lifts; nothing that deprovisioning ended comes back (S5).
//!
//! Who the IdM means is decided once, when a User is written: `scim_users.user_id` is the portal
//! user ID taken from the attribute `scim.user_id_attribute` names — the same ID the OIDC claim
//! `oidc.user_id_claim` gives at login, or a local account's id. The bar compares that stored ID
//! with the session's or the identity's user ID exactly, as deprovisioning does; it never maps an
//! ID itself.
//!
//! The check is two index look-ups ([`is_barred`]), cheap enough for every sign-in and every
//! certificate request.

use crate::storage::scim::idm_bars_user;
use crate::storage::Conn;

/// The IdM says this person is inactive or deleted. The text is for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("your account was deactivated by your organisation's identity management, so the portal lets you do nothing more; if this is a mistake, contact your network contact (NAP)")]
pub struct IdmInactive;

/// Whether the IdM bars `user_id`: no User standing for it is active, and one is inactive or
/// one was deleted.
pub async fn is_barred(conn: &mut Conn, user_id: &str) -> sqlx::Result<bool> {
    idm_bars_user(conn, user_id).await
}

/// `Err(IdmInactive)` (in the caller's error type) when the IdM bars `user_id`; `Ok` for anyone
/// else, also for IDs the IdM has never named (a portal without SCIM bars nobody).
pub async fn check_not_barred<E>(conn: &mut Conn, user_id: &str) -> Result<(), E>
where
    E: From<IdmInactive> + From<sqlx::Error>,
{
    if is_barred(conn, user_id).await? {
        Err(IdmInactive.into())
    } else {
        Ok(())
    }
}
