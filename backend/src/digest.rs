//! The NAPs' digest (SPEC R23): once per period (weekly by default), one mail per NAP and domain
//! with what needs their attention: deactivated rows that still have valid certificates and
//! their S/MIME BR deadline (the R19 worklist), certificates expiring within 30 days, and
//! challenges whose mail failed or which expired unconfirmed since the previous digest. Nothing
//! is sent when there is nothing to say.
//!
//! Who the NAPs of a domain are: the portal does not ask the IdM, it knows group memberships only
//! from logins. So the digest goes to people whose latest login (within
//! `digest.nap_login_within_days`, default 90) carried the domain's contact group — kept in
//! `last_login_groups` by a trigger on `sessions` — plus local accounts in the group (their groups
//! are the portal's own, so they count whenever the account has logged in once). A person who left
//! the group stops getting it at their next login, or after those days.
//!
//! Each NAP and domain is looked at once per period: the `nap_digests` record (mailed or not) is
//! the claim, written in the transaction that queues the mail, so a restart or a second instance
//! never sends a period's digest twice.

use std::collections::{BTreeMap, HashSet};

use domain::handover::EXPIRING_SOON_SECS;

use crate::error::ServiceError;
use crate::handover::leaver_worklist;
use crate::mail::message_id::message_id;
use crate::mail::templates::{
    digest_mail, DigestChallenge, DigestExpiring, DigestLeaver, DigestMail,
};
use crate::portal::Portal;
use crate::roles::{Refusal, Viewer};
use crate::sessions::SessionUser;
use crate::storage::domains::{list_domains, DomainRecord};
use crate::storage::outbox::{insert_outbox_mails, NewOutboxMail};
use crate::storage::Conn;

const DAY: i64 = 86_400;

/// Periods start on Mondays 00:00 UTC (1970-01-05 was a Monday), so a weekly digest waits in the
/// NAPs' inboxes at the start of the week.
const PERIOD_EPOCH: i64 = 4 * DAY;

/// Most entries of one kind a digest lists: a domain of thousands of rows needs the table, not a
/// mail, and a mail must stay readable.
const MAX_ENTRIES: usize = 50;

/// Most characters of a relay's reply quoted in a digest.
const MAX_ERROR_CHARS: usize = 200;

/// A NAP of a domain, as far as the portal knows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Nap {
    user_id: String,
    email: String,
}

/// The digest period `now` lies in, for an interval of `interval_days`.
pub fn digest_period(now: i64, interval_days: u32) -> i64 {
    (now - PERIOD_EPOCH).div_euclid(i64::from(interval_days.max(1)) * DAY)
}

/// R23: makes the digests due at `now` — one per NAP and domain and period, mailed only when there
/// is something to say — and returns how many were queued.
pub async fn send_due_digests(portal: &Portal, now: i64) -> Result<usize, ServiceError> {
    let interval = portal.config.digest.interval_days;
    if interval == 0 {
        return Ok(0);
    }
    let period = digest_period(now, interval);
    let mut conn = portal.pool.acquire().await?;
    let domains = list_domains(&mut conn).await?;
    let login_since = now - i64::from(portal.config.digest.nap_login_within_days) * DAY;
    let logins = list_recent_login_groups(&mut conn, login_since).await?;
    let locals = list_local_group_members(&mut conn).await?;
    let opted_out = list_digest_opt_outs(&mut conn).await?;
    let done = list_digests_of_period(&mut conn, period).await?;
    drop(conn);

    let mut queued = 0;
    for domain in &domains {
        let naps: Vec<Nap> = naps_of(&domain.contact_group, &logins, &locals)
            .into_iter()
            .filter(|n| !opted_out.contains(&(n.user_id.clone(), domain.id)))
            .filter(|n| !done.contains(&(n.user_id.clone(), domain.id)))
            .collect();
        if naps.is_empty() {
            continue;
        }
        // The standing news is the same for every NAP of the domain; read it once.
        let leavers = leavers_of(portal, domain, &naps[0], now).await?;
        let expiring = {
            let mut conn = portal.pool.acquire().await?;
            list_expiring_certificates(&mut conn, domain.id, now).await?
        };
        for nap in &naps {
            if send_digest(portal, domain, nap, period, now, &leavers, &expiring).await? {
                queued += 1;
            }
        }
    }
    if queued > 0 {
        portal.outbox.notify_one();
        tracing::info!(digests = queued, "NAP digests queued");
    }
    Ok(queued)
}

/// One NAP's digest of one domain: claims the period, queues the mail when there is news.
async fn send_digest(
    portal: &Portal,
    domain: &DomainRecord,
    nap: &Nap,
    period: i64,
    now: i64,
    leavers: &[DigestLeaver],
    expiring: &[DigestExpiring],
) -> Result<bool, ServiceError> {
    let mut tx = portal.pool.begin_write().await?;
    let interval = i64::from(portal.config.digest.interval_days) * DAY;
    let since = latest_digest_at(&mut tx, &nap.user_id, domain.id)
        .await?
        .unwrap_or(now - interval);
    let failed = list_failed_challenge_mails(&mut tx, domain.id, since, now).await?;
    let expired = list_expired_challenges(&mut tx, domain.id, since, now).await?;
    let news =
        !(leavers.is_empty() && expiring.is_empty() && failed.is_empty() && expired.is_empty());
    if !claim_digest(&mut tx, &nap.user_id, domain.id, period, now, news).await? {
        // Another instance made it meanwhile.
        return Ok(false);
    }
    if news {
        let link = format!("{}/domains/{}", portal.config.base_url(), domain.name);
        let rendered = digest_mail(&DigestMail {
            domain: &domain.name,
            since,
            leavers,
            expiring,
            failed: &failed,
            expired: &expired,
            link: &link,
        });
        let mail = NewOutboxMail {
            recipient: nap.email.clone(),
            subject: rendered.subject,
            body_text: rendered.text,
            body_html: rendered.html,
            message_id: message_id(&portal.config.mail.from)?,
            challenge_id: None,
        };
        insert_outbox_mails(&mut tx, &[mail], now).await?;
    }
    tx.commit().await?;
    Ok(news)
}

/// The R19 worklist of the domain as its NAP sees it.
async fn leavers_of(
    portal: &Portal,
    domain: &DomainRecord,
    nap: &Nap,
    now: i64,
) -> Result<Vec<DigestLeaver>, ServiceError> {
    let viewer = Viewer {
        user: SessionUser {
            user_id: nap.user_id.clone(),
            given_name: String::new(),
            family_name: String::new(),
            email: Some(nap.email.clone()),
            groups: vec![domain.contact_group.clone()],
            session_started_at: now,
        },
        is_operator: false,
        nap_domains: vec![domain.clone()],
    };
    let items = leaver_worklist(portal, &viewer, &domain.name, now)
        .await
        .map_err(|e| ServiceError::Internal(Box::new(e)))?;
    Ok(items
        .into_iter()
        .take(MAX_ENTRIES)
        .map(|i| DigestLeaver {
            primary: i.primary,
            name: i.name,
            certificates: i.certificates.len(),
            deadline: i.deadline,
        })
        .collect())
}

/// The people the portal knows to be in `group` at `now`, as the digest finds a domain's NAPs:
/// (user ID, address) of recent logins with the group and of local accounts in it, in user ID
/// order. For other mails to NAPs (R22's sync-run mail) and to operators.
pub(crate) async fn group_members(
    portal: &Portal,
    group: &str,
    now: i64,
) -> Result<Vec<(String, String)>, ServiceError> {
    let mut conn = portal.pool.acquire().await?;
    let login_since = now - i64::from(portal.config.digest.nap_login_within_days) * DAY;
    let logins = list_recent_login_groups(&mut conn, login_since).await?;
    let locals = list_local_group_members(&mut conn).await?;
    Ok(naps_of(group, &logins, &locals)
        .into_iter()
        .map(|n| (n.user_id, n.email))
        .collect())
}

/// The NAPs of a domain (the members of its contact group): recent logins with the group (people
/// from the IdM) and local accounts in it, each once, in user ID order.
fn naps_of(group: &str, logins: &[LoginGroups], locals: &[LocalMember]) -> Vec<Nap> {
    let mut naps = BTreeMap::new();
    for l in logins {
        let groups: Vec<String> = serde_json::from_str(&l.groups).unwrap_or_default();
        if groups.iter().any(|g| g == group) {
            if let Some(email) = usable_email(l.email.as_deref()) {
                naps.insert(l.user_id.clone(), email);
            }
        }
    }
    for m in locals.iter().filter(|m| m.group_name == group) {
        if let Some(email) = usable_email(m.email.as_deref()) {
            naps.insert(m.user_id.clone(), email);
        }
    }
    naps.into_iter()
        .map(|(user_id, email)| Nap { user_id, email })
        .collect()
}

fn usable_email(email: Option<&str>) -> Option<String> {
    email
        .and_then(|e| domain::address::EmailAddress::parse(e).ok())
        .map(|e| e.as_str().to_owned())
}

/// The domain's name for a NAP who may change its digest setting.
fn nap_domain<'a>(viewer: &'a Viewer, domain: &str) -> Result<&'a DomainRecord, ServiceError> {
    let name = domain::address::DomainName::parse(domain)?;
    viewer
        .nap_domains
        .iter()
        .find(|d| d.name == name.as_str())
        .ok_or(ServiceError::from(Refusal::NotNapOfDomain))
}

/// R23: whether the viewer, a NAP of `domain`, gets its digest (the default) or turned it off.
pub async fn digest_enabled(
    portal: &Portal,
    viewer: &Viewer,
    domain: &str,
) -> Result<bool, ServiceError> {
    let domain = nap_domain(viewer, domain)?;
    let off: Option<i64> = crate::run!(portal.pool, ex => sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM digest_opt_outs WHERE user_id = $1 AND domain_id = $2",
    )
    .bind(&viewer.user.user_id)
    .bind(domain.id)
    .fetch_optional(ex)
    .await)?;
    Ok(off.is_none())
}

/// R23: turns the viewer's digest of `domain` on or off; only its NAPs may (each for themselves).
pub async fn set_digest_enabled(
    portal: &Portal,
    viewer: &Viewer,
    domain: &str,
    enabled: bool,
) -> Result<(), ServiceError> {
    let domain = nap_domain(viewer, domain)?;
    let user = &viewer.user.user_id;
    // Each statement with its own parameters: SQLite ignores one bound too many, PostgreSQL
    // refuses it.
    let now = crate::clock::now();
    crate::run!(portal.pool, ex => {
        let query = if enabled {
            sqlx::query("DELETE FROM digest_opt_outs WHERE user_id = $1 AND domain_id = $2")
                .bind(user)
                .bind(domain.id)
        } else {
            sqlx::query(
                "INSERT INTO digest_opt_outs (user_id, domain_id, at) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id, domain_id) DO NOTHING",
            )
            .bind(user)
            .bind(domain.id)
            .bind(now)
        };
        query.execute(ex).await.map(crate::storage::engine::Done::from)
    })?;
    tracing::info!(domain = %domain.name, enabled, "NAP digest setting changed");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// SQL
// ---------------------------------------------------------------------------------------------

/// A person from the IdM with the groups of their latest login.
#[derive(Debug, sqlx::FromRow)]
struct LoginGroups {
    user_id: String,
    groups: String,
    email: Option<String>,
}

/// A local account's group, with its address.
#[derive(Debug, sqlx::FromRow)]
struct LocalMember {
    user_id: String,
    group_name: String,
    email: Option<String>,
}

/// People from the IdM whose latest login was at `since` or later. Local accounts are left out:
/// their groups are the portal's own ([`list_local_group_members`]), so a group they lost since
/// their login must not count.
async fn list_recent_login_groups(conn: &mut Conn, since: i64) -> sqlx::Result<Vec<LoginGroups>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT g.user_id, g.groups, u.email FROM last_login_groups g
         JOIN users u ON u.id = g.user_id
         WHERE g.logged_in_at >= $1 AND u.source = 'oidc'",
    )
    .bind(since)
    .fetch_all(ex)
    .await)
}

/// Local accounts' groups, for those who have logged in once (the records refer to `users`).
async fn list_local_group_members(conn: &mut Conn) -> sqlx::Result<Vec<LocalMember>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT g.account_id AS user_id, g.group_name, COALESCE(a.email, u.email) AS email
         FROM local_account_groups g
         JOIN local_accounts a ON a.id = g.account_id
         JOIN users u ON u.id = g.account_id",
    )
    .fetch_all(ex)
    .await)
}

async fn list_digest_opt_outs(conn: &mut Conn) -> sqlx::Result<HashSet<(String, i64)>> {
    let rows: Vec<(String, i64)> = crate::run!(conn, ex => sqlx::query_as("SELECT user_id, domain_id FROM digest_opt_outs")
        .fetch_all(ex)
        .await)?;
    Ok(rows.into_iter().collect())
}

async fn list_digests_of_period(
    conn: &mut Conn,
    period: i64,
) -> sqlx::Result<HashSet<(String, i64)>> {
    let rows: Vec<(String, i64)> = crate::run!(conn, ex => sqlx::query_as("SELECT user_id, domain_id FROM nap_digests WHERE period = $1")
            .bind(period)
            .fetch_all(ex)
            .await)?;
    Ok(rows.into_iter().collect())
}

async fn latest_digest_at(
    conn: &mut Conn,
    user_id: &str,
    domain_id: i64,
) -> sqlx::Result<Option<i64>> {
    crate::run!(conn, ex => sqlx::query_scalar("SELECT MAX(at) FROM nap_digests WHERE user_id = $1 AND domain_id = $2")
        .bind(user_id)
        .bind(domain_id)
        .fetch_one(ex)
        .await)
}

/// Records the period's digest of a NAP and domain; false when it exists already (the claim).
async fn claim_digest(
    conn: &mut Conn,
    user_id: &str,
    domain_id: i64,
    period: i64,
    now: i64,
    mailed: bool,
) -> sqlx::Result<bool> {
    let done = crate::run!(conn, ex => sqlx::query(
        "INSERT INTO nap_digests (user_id, domain_id, period, at, mailed) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id, domain_id, period) DO NOTHING",
    )
    .bind(user_id)
    .bind(domain_id)
    .bind(period)
    .bind(now)
    .bind(mailed)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected() == 1)
}

#[derive(sqlx::FromRow)]
struct ExpiringRow {
    serial: String,
    user_id: String,
    given_name: String,
    family_name: String,
    primary_address: String,
    not_after: i64,
}

/// Valid certificates of the domain's active rows ending within 30 days whose holder has not
/// renewed them yet (deactivated rows are on the worklist instead).
async fn list_expiring_certificates(
    conn: &mut Conn,
    domain_id: i64,
    now: i64,
) -> sqlx::Result<Vec<DigestExpiring>> {
    let rows: Vec<ExpiringRow> = crate::run!(conn, ex => sqlx::query_as(
        "SELECT c.serial, c.user_id, u.given_name, u.family_name, m.primary_address, c.not_after
         FROM certificates c
         JOIN mailbox_rows m ON m.id = c.row_id
         JOIN users u ON u.id = c.user_id
         LEFT JOIN revocations v ON v.certificate_id = c.id
         WHERE m.domain_id = $1 AND m.active = TRUE AND v.certificate_id IS NULL
           AND c.not_after > $2 AND c.not_after <= $3
           AND NOT EXISTS (
               SELECT 1 FROM certificates n
               LEFT JOIN revocations nv ON nv.certificate_id = n.id
               WHERE n.row_id = c.row_id AND n.user_id = c.user_id AND n.id <> c.id
                 AND n.not_after > c.not_after AND nv.certificate_id IS NULL)
         ORDER BY c.not_after, c.id LIMIT $4",
    )
    .bind(domain_id)
    .bind(now)
    .bind(now + EXPIRING_SOON_SECS)
    .bind(MAX_ENTRIES as i64)
    .fetch_all(ex)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let name = format!("{} {}", r.given_name, r.family_name)
                .trim()
                .to_owned();
            DigestExpiring {
                serial: r.serial,
                holder: if name.is_empty() { r.user_id } else { name },
                primary: r.primary_address,
                not_after: r.not_after,
            }
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct ChallengeNews {
    address: String,
    recipient: String,
    at: i64,
    error: Option<String>,
}

impl From<ChallengeNews> for DigestChallenge {
    fn from(c: ChallengeNews) -> Self {
        DigestChallenge {
            address: c.address,
            recipient: c.recipient,
            at: c.at,
            error: c.error.map(|e| e.chars().take(MAX_ERROR_CHARS).collect()),
        }
    }
}

/// Challenge mails of the domain that failed for good in `[since, now)`. The outbox keeps no
/// failure time; a failed mail's last scheduled attempt is when it failed.
async fn list_failed_challenge_mails(
    conn: &mut Conn,
    domain_id: i64,
    since: i64,
    now: i64,
) -> sqlx::Result<Vec<DigestChallenge>> {
    let rows: Vec<ChallengeNews> = crate::run!(conn, ex => sqlx::query_as(
        "SELECT c.address, o.recipient, o.next_attempt_at AS at, o.last_error AS error
         FROM mail_outbox o
         JOIN challenges c ON c.id = o.challenge_id
         JOIN mailbox_rows m ON m.id = c.row_id
         WHERE m.domain_id = $1 AND o.state = 'failed'
           AND o.next_attempt_at >= $2 AND o.next_attempt_at < $3
         ORDER BY o.next_attempt_at, o.id LIMIT $4",
    )
    .bind(domain_id)
    .bind(since)
    .bind(now)
    .bind(MAX_ENTRIES as i64)
    .fetch_all(ex)
    .await)?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Challenges of the domain that expired unconfirmed in `[since, now)`. A pending challenge past
/// its lifetime is expired (R10) even before anything marks it so.
async fn list_expired_challenges(
    conn: &mut Conn,
    domain_id: i64,
    since: i64,
    now: i64,
) -> sqlx::Result<Vec<DigestChallenge>> {
    let rows: Vec<ChallengeNews> = crate::run!(conn, ex => sqlx::query_as(
        "SELECT c.address, c.recipient, c.expires_at AS at, NULL AS error
         FROM challenges c
         JOIN mailbox_rows m ON m.id = c.row_id
         WHERE m.domain_id = $1 AND c.state IN ('pending', 'expired')
           AND c.expires_at >= $2 AND c.expires_at < $3
         ORDER BY c.expires_at, c.id LIMIT $4",
    )
    .bind(domain_id)
    .bind(since)
    .bind(now)
    .bind(MAX_ENTRIES as i64)
    .fetch_all(ex)
    .await)?;
    Ok(rows.into_iter().map(Into::into).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r23_weekly_periods_start_on_mondays() {
        // 2025-06-16 was a Monday.
        let monday = 1_750_032_000;
        assert_eq!(
            digest_period(monday, 7),
            digest_period(monday + 7 * DAY - 1, 7)
        );
        assert_eq!(digest_period(monday - 1, 7) + 1, digest_period(monday, 7));
        assert_eq!(digest_period(monday, 1) + 1, digest_period(monday + DAY, 1));
    }
}
