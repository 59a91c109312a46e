//! The services (accounts, sessions, roles, domains, demo) against a real SQLite file per test.
//! One test binary with a module per service keeps linking time down.

mod accounts;
mod api_tokens;
mod at_rest;
mod certificates;
mod challenges;
mod csv;
mod demo;
mod deprovisioning;
mod digest;
mod domains;
mod handover;
mod idm_bar;
mod instances;
mod mail;
mod reminders;
mod roles;
mod rows;
mod rows_paging;
mod sessions;
mod sign_in;

use backend::identity::{Identity, IdentitySource};
use backend::storage::audit::AuditRecord;
use backend::storage::Db;

/// Every audit record, oldest first.
pub async fn audit_records(pool: &Db) -> Vec<AuditRecord> {
    backend::run!(pool, ex => sqlx::query_as(
        "SELECT id, at, actor, domain_id, row_id, kind, subject, before, after
         FROM audit_records ORDER BY id",
    )
    .fetch_all(ex)
    .await)
    .unwrap()
}

/// Fails if any audit record holds one of `secrets` or a password hash (Q6).
pub async fn assert_audit_holds_no_secret(pool: &Db, secrets: &[&str]) {
    for r in audit_records(pool).await {
        let text = format!(
            "{} {} {:?} {:?} {:?}",
            r.actor, r.kind, r.subject, r.before, r.after
        );
        assert!(
            !text.contains("$argon2"),
            "a hash in the audit trail: {text}"
        );
        for s in secrets {
            assert!(!text.contains(s), "a secret in the audit trail: {text}");
        }
    }
}

/// What an IdM would say about a person in `groups`.
pub fn identity(user_id: &str, groups: &[&str]) -> Identity {
    Identity {
        user_id: user_id.into(),
        given_name: "Anna".into(),
        family_name: "Schmidt".into(),
        email: Some(format!("{user_id}@example.org")),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        source: IdentitySource::Oidc,
    }
}
