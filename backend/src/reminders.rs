//! Expiry reminders (SPEC R23): a certificate's holder is mailed the configured number of days
//! (default 30, 14, 7 and 1) before it expires, so they renew in time and senders can keep
//! encrypting to them.
//!
//! Each step sent is recorded in `certificate_reminders` in the transaction that queues the mail
//! (SPEC §3), and the record's primary key is the claim: a restart, or a second instance running
//! the same job, finds the step taken and sends nothing. A portal that was down when steps fell
//! due sends only the latest due step, once: three reminders in one morning would be noise.

use std::future::Future;
use std::time::Duration;

use domain::address::EmailAddress;

use crate::error::ServiceError;
use crate::mail::message_id::message_id;
use crate::mail::templates::{reminder_mail, ReminderMail};
use crate::portal::Portal;
use crate::storage::outbox::{insert_outbox_mails, NewOutboxMail};
use crate::storage::Conn;

const DAY: i64 = 86_400;

/// How often [`run_reminder_job`] looks what is due (and once at start): reminders are per day,
/// so ten minutes late is on time, and a look is two small queries.
const JOB_INTERVAL: Duration = Duration::from_secs(600);

/// A valid certificate that may be due for a reminder.
#[derive(Debug, sqlx::FromRow)]
struct Candidate {
    id: i64,
    serial: String,
    addresses: String,
    not_after: i64,
    /// The holder's address as the IdM gave it at their latest login.
    holder_email: Option<String>,
    /// The smallest step already sent for it, if any.
    last_step: Option<i64>,
}

/// The step of `steps` (days before expiry) due at `now` for a certificate ending at
/// `not_after`: the smallest one whose moment has come. None while no step is due yet or once the
/// certificate has expired.
pub fn due_step(steps: &[u32], not_after: i64, now: i64) -> Option<i64> {
    let left = not_after - now;
    if left <= 0 {
        return None;
    }
    steps
        .iter()
        .map(|d| i64::from(*d))
        .filter(|d| left <= d * DAY)
        .min()
}

/// R23: queues the reminders due at `now` and records their steps; returns how many were queued.
/// Revoked and expired certificates get none, nor does a certificate whose holder has a newer
/// valid one for the same row (they renewed), nor one of a deactivated row (it cannot be renewed,
/// R7; the NAPs' digest lists it instead).
pub async fn send_due_reminders(portal: &Portal, now: i64) -> Result<usize, ServiceError> {
    let steps = &portal.config.reminders.days;
    let Some(furthest) = steps.iter().max().map(|d| i64::from(*d)) else {
        return Ok(0);
    };
    let candidates = {
        let mut conn = portal.pool.acquire().await?;
        list_reminder_candidates(&mut conn, now, now + furthest * DAY).await?
    };
    let link = format!("{}/certificates", portal.config.base_url());
    let mut queued = 0;
    for c in candidates {
        let Some(step) = due_step(steps, c.not_after, now) else {
            continue;
        };
        // This step or a later one went out already (the smallest step sent is the latest).
        if c.last_step.is_some_and(|last| last <= step) {
            continue;
        }
        let addresses: Vec<String> = serde_json::from_str(&c.addresses).unwrap_or_default();
        let Some(recipient) = recipient(c.holder_email.as_deref(), &addresses) else {
            tracing::warn!(
                certificate = c.id,
                "no address to send an expiry reminder to"
            );
            continue;
        };
        let rendered = reminder_mail(&ReminderMail {
            serial: &c.serial,
            addresses: &addresses,
            not_after: c.not_after,
            now,
            link: &link,
        });
        let mail = NewOutboxMail {
            recipient,
            subject: rendered.subject,
            body_text: rendered.text,
            body_html: rendered.html,
            message_id: message_id(&portal.config.mail.from)?,
            challenge_id: None,
        };
        let mut tx = portal.pool.begin_write().await?;
        if !claim_reminder_step(&mut tx, c.id, step, now).await? {
            // Another instance sent it meanwhile.
            continue;
        }
        insert_outbox_mails(&mut tx, &[mail], now).await?;
        tx.commit().await?;
        queued += 1;
    }
    if queued > 0 {
        portal.outbox.notify_one();
        tracing::info!(reminders = queued, "expiry reminders queued");
    }
    Ok(queued)
}

/// The periodic job of R23: at start and every ten minutes, queues the reminders due and the
/// NAPs' digests due, until `shutdown` completes. Safe beside other instances running it too
/// (each mail is claimed by its record's primary key).
pub async fn run_reminder_job(portal: Portal, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut every = tokio::time::interval(JOB_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!("reminder job started");
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = every.tick() => {}
        }
        if let Err(e) = send_due_reminders(&portal, crate::clock::now()).await {
            tracing::error!(error = ?e, "could not queue expiry reminders");
        }
        if let Err(e) = crate::digest::send_due_digests(&portal, crate::clock::now()).await {
            tracing::error!(error = ?e, "could not make the NAP digests");
        }
    }
    tracing::info!("reminder job stopped");
}

/// The holder's IdM address when it is a usable one, else the certificate's first address.
fn recipient(holder_email: Option<&str>, addresses: &[String]) -> Option<String> {
    holder_email
        .and_then(|e| EmailAddress::parse(e).ok())
        .map(|e| e.as_str().to_owned())
        .or_else(|| addresses.first().cloned())
}

/// Valid certificates of active rows ending in `(now, until]` whose holder has no newer valid
/// certificate for the row.
async fn list_reminder_candidates(
    conn: &mut Conn,
    now: i64,
    until: i64,
) -> sqlx::Result<Vec<Candidate>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT c.id, c.serial, c.addresses, c.not_after, u.email AS holder_email,
                (SELECT MIN(r.days_before) FROM certificate_reminders r
                 WHERE r.certificate_id = c.id) AS last_step
         FROM certificates c
         JOIN users u ON u.id = c.user_id
         JOIN mailbox_rows m ON m.id = c.row_id
         LEFT JOIN revocations v ON v.certificate_id = c.id
         WHERE v.certificate_id IS NULL AND c.not_after > $1 AND c.not_after <= $2 AND m.active = TRUE
           AND NOT EXISTS (
               SELECT 1 FROM certificates n
               LEFT JOIN revocations nv ON nv.certificate_id = n.id
               WHERE n.row_id = c.row_id AND n.user_id = c.user_id AND n.id <> c.id
                 AND n.not_after > c.not_after AND nv.certificate_id IS NULL)
         ORDER BY c.not_after, c.id",
    )
    .bind(now)
    .bind(until)
    .fetch_all(ex)
    .await)
}

/// Records that `step` of a certificate is sent; false when it was already (the claim).
async fn claim_reminder_step(
    conn: &mut Conn,
    certificate_id: i64,
    step: i64,
    now: i64,
) -> sqlx::Result<bool> {
    let done = crate::run!(conn, ex => sqlx::query(
        "INSERT INTO certificate_reminders (certificate_id, days_before, sent_at) VALUES ($1, $2, $3)
         ON CONFLICT (certificate_id, days_before) DO NOTHING",
    )
    .bind(certificate_id)
    .bind(step)
    .bind(now)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: [u32; 4] = [30, 14, 7, 1];

    #[test]
    fn r23_the_due_step_is_the_smallest_whose_moment_has_come() {
        let end = 1_000 * DAY;
        assert_eq!(due_step(&STEPS, end, end - 31 * DAY), None);
        assert_eq!(due_step(&STEPS, end, end - 30 * DAY), Some(30));
        assert_eq!(due_step(&STEPS, end, end - 15 * DAY), Some(30));
        assert_eq!(due_step(&STEPS, end, end - 14 * DAY), Some(14));
        assert_eq!(due_step(&STEPS, end, end - 3 * DAY), Some(7));
        assert_eq!(due_step(&STEPS, end, end - 3600), Some(1));
        assert_eq!(due_step(&STEPS, end, end), None, "expired: none");
        assert_eq!(due_step(&[], end, end - DAY), None);
    }

    #[test]
    fn r23_reminders_go_to_the_idm_address_when_usable() {
        let addrs = vec!["anna@example.org".to_owned()];
        assert_eq!(
            recipient(Some("Anna@Uni.Example"), &addrs).as_deref(),
            Some("anna@uni.example")
        );
        assert_eq!(
            recipient(Some("not an address"), &addrs).as_deref(),
            Some("anna@example.org")
        );
        assert_eq!(recipient(None, &[]), None);
    }
}
