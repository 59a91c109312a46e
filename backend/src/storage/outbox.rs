//! The mail outbox (SPEC §3): mail is written here in the transaction of what caused it and
//! delivered later by the outbox worker, which records the outcome here too.

use std::collections::HashMap;

use sqlx::{FromRow, QueryBuilder};

use super::Conn;

/// A mail to put into the outbox.
#[derive(Debug, Clone)]
pub struct NewOutboxMail {
    /// The one recipient.
    pub recipient: String,
    /// The `Subject` header.
    pub subject: String,
    /// Plain-text body.
    pub body_text: String,
    /// HTML alternative.
    pub body_html: String,
    /// The `Message-ID` header, with angle brackets; fixed now so that a retry is the same mail.
    pub message_id: String,
    /// The challenge it carries, if any.
    pub challenge_id: Option<i64>,
}

/// Most mails in one `INSERT` statement: 7 parameters each stays far below SQLite's limit of
/// 32 766 parameters per statement, and a fixed size lets the statement be prepared once.
const INSERT_CHUNK: usize = 500;

/// Queues mails for delivery at `now` (state `queued`, no attempt yet), in few statements.
pub async fn insert_outbox_mails(
    conn: &mut Conn,
    mails: &[NewOutboxMail],
    now: i64,
) -> sqlx::Result<()> {
    for chunk in mails.chunks(INSERT_CHUNK) {
        crate::run!(conn, ex => {
        let mut q: QueryBuilder<_> = QueryBuilder::new(
            "INSERT INTO mail_outbox (created_at, recipient, subject, body_text, body_html,
                 message_id, challenge_id, state, attempts, next_attempt_at) ",
        );
        q.push_values(chunk, |mut b, m| {
            b.push_bind(now)
                .push_bind(&m.recipient)
                .push_bind(&m.subject)
                .push_bind(&m.body_text)
                .push_bind(&m.body_html)
                .push_bind(&m.message_id)
                .push_bind(m.challenge_id)
                .push("'queued'")
                .push("0")
                .push_bind(now);
        });
        q.build().execute(ex).await.map(crate::storage::engine::Done::from)
        })?;
    }
    Ok(())
}

/// A queued mail as the worker delivers it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct OutboxMail {
    /// Database id.
    pub id: i64,
    /// When it was queued; also the mail's `Date`, so a retry is byte-for-byte the same mail.
    pub created_at: i64,
    /// The one recipient.
    pub recipient: String,
    /// The `Subject` header.
    pub subject: String,
    /// Plain-text body (may hold a challenge link: never log it).
    pub body_text: String,
    /// HTML alternative (the same).
    pub body_html: String,
    /// The `Message-ID` header, with angle brackets.
    pub message_id: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When it became due (the claim's order).
    pub next_attempt_at: i64,
    /// The instance that held it before this one claimed it, if any: one that went silent, whose
    /// delivery journal tells whether the relay had accepted it already.
    pub claimed_from: Option<String>,
}

/// Claims up to `limit` queued mails due at `now` for `instance`, the longest-waiting first, and
/// returns them. A mail is free to claim when nobody holds it, when `instance` itself does (left
/// over from a round that stopped early), or when its holder has shown no sign of life since
/// `alive_since` (see `storage::instances`). One statement, so SQLite's write lock serialises two
/// instances claiming at once: each mail goes to one of them. (PostgreSQL: the subquery picks
/// `FOR UPDATE SKIP LOCKED`.)
pub async fn claim_due_outbox_mails(
    conn: &mut Conn,
    instance: &str,
    now: i64,
    alive_since: i64,
    limit: i64,
) -> sqlx::Result<Vec<OutboxMail>> {
    // SQLite runs one such UPDATE at a time (its write lock). On PostgreSQL two instances' claims
    // run at once: each locks the mails it picks and skips those another claim has locked, so no
    // mail is claimed by both.
    let mut mails: Vec<OutboxMail> = crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE mail_outbox SET claimed_from = claimed_by, claimed_by = $1
         WHERE id IN (
             SELECT o.id FROM mail_outbox o
             WHERE o.state = 'queued' AND o.next_attempt_at <= $2
               AND (o.claimed_by IS NULL OR o.claimed_by = $1 OR NOT EXISTS (
                   SELECT 1 FROM portal_instances i
                   WHERE i.id = o.claimed_by AND i.beat_at >= $3))
             ORDER BY o.next_attempt_at, o.id LIMIT $4{})
         RETURNING id, created_at, recipient, subject, COALESCE(body_text, '') AS body_text,
                   COALESCE(body_html, '') AS body_html, message_id, attempts, next_attempt_at,
                   claimed_from",
        if PG { " FOR UPDATE OF o SKIP LOCKED" } else { "" }
    )))
    .bind(instance)
    .bind(now)
    .bind(alive_since)
    .bind(limit)
    .fetch_all(ex)
    .await)?;
    // RETURNING names no order.
    mails.sort_by_key(|m| (m.next_attempt_at, m.id));
    Ok(mails)
}

/// Gives up `instance`'s claims on mail still queued (a round that stopped before sending them),
/// so that any instance may send them at once.
pub async fn release_outbox_claims(conn: &mut Conn, instance: &str) -> sqlx::Result<u64> {
    let done = crate::run!(conn, ex => sqlx::query(
        "UPDATE mail_outbox SET claimed_by = NULL WHERE claimed_by = $1 AND state = 'queued'",
    )
    .bind(instance)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected())
}

/// When the next queued mail is due, if any (the worker sleeps until then at most).
pub async fn next_outbox_attempt_at(conn: &mut Conn) -> sqlx::Result<Option<i64>> {
    crate::run!(conn, ex => sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM mail_outbox WHERE state = 'queued'")
        .fetch_one(ex)
        .await)
}

/// Records that the relay accepted a mail. The bodies are cleared: a challenge's token stays in
/// the database only while its mail is undelivered (Q6).
pub async fn mark_outbox_mail_sent(conn: &mut Conn, id: i64, now: i64) -> sqlx::Result<()> {
    crate::run!(conn, ex => sqlx::query(
        "UPDATE mail_outbox SET state = 'sent', sent_at = $1, attempts = attempts + 1,
             last_error = NULL, body_text = NULL, body_html = NULL, claimed_by = NULL
         WHERE id = $2 AND state = 'queued'",
    )
    .bind(now)
    .bind(id)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}

/// Records a failed attempt that will be retried at `next_attempt_at`.
pub async fn mark_outbox_mail_retry(
    conn: &mut Conn,
    id: i64,
    error: &str,
    next_attempt_at: i64,
) -> sqlx::Result<()> {
    crate::run!(conn, ex => sqlx::query(
        "UPDATE mail_outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2,
             claimed_by = NULL
         WHERE id = $3 AND state = 'queued'",
    )
    .bind(error)
    .bind(next_attempt_at)
    .bind(id)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}

/// Records that a mail cannot be delivered (a permanent refusal, or too many attempts); its
/// bodies are cleared like a sent mail's.
pub async fn mark_outbox_mail_failed(conn: &mut Conn, id: i64, error: &str) -> sqlx::Result<()> {
    crate::run!(conn, ex => sqlx::query(
        "UPDATE mail_outbox SET state = 'failed', attempts = attempts + 1, last_error = $1,
             body_text = NULL, body_html = NULL, claimed_by = NULL
         WHERE id = $2 AND state = 'queued'",
    )
    .bind(error)
    .bind(id)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}

/// Where the mail of a challenge is, for the address table (SPEC §3: "the delivery state of the
/// last email").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Waiting for (another) attempt.
    Queued {
        /// Attempts so far (0: not tried yet).
        attempts: i64,
        /// Why the last attempt failed, if one did.
        last_error: Option<String>,
    },
    /// The relay accepted it.
    Sent {
        /// When.
        at: i64,
    },
    /// It will not be delivered.
    Failed {
        /// The relay's reply (or the local error) of the last attempt.
        reason: String,
    },
}

#[derive(FromRow)]
struct DeliveryRecord {
    challenge_id: i64,
    state: String,
    attempts: i64,
    last_error: Option<String>,
    sent_at: Option<i64>,
}

/// The delivery state of the (last) mail of each of the given challenges; challenges without a
/// mail are missing from the map.
pub async fn delivery_of_challenges(
    conn: &mut Conn,
    challenge_ids: &[i64],
) -> sqlx::Result<HashMap<i64, Delivery>> {
    if challenge_ids.is_empty() {
        return Ok(HashMap::new());
    }
    // A JSON array parameter keeps this one prepared statement whatever the number of ids.
    let ids = serde_json::to_string(challenge_ids).expect("numbers serialise");
    let records: Vec<DeliveryRecord> = crate::run!(conn, ex => sqlx::query_as(
        sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, "SELECT challenge_id, state, attempts, last_error, sent_at FROM mail_outbox
         WHERE challenge_id IN (SELECT CAST(value AS BIGINT) FROM json_each($1)) ORDER BY id")),
    )
    .bind(ids)
    .fetch_all(ex)
    .await)?;
    // Ordered by id, so the last mail of a challenge wins.
    Ok(records
        .into_iter()
        .map(|r| {
            let delivery = match r.state.as_str() {
                "sent" => Delivery::Sent {
                    at: r.sent_at.unwrap_or_default(),
                },
                "failed" => Delivery::Failed {
                    reason: r.last_error.unwrap_or_default(),
                },
                _ => Delivery::Queued {
                    attempts: r.attempts,
                    last_error: r.last_error,
                },
            };
            (r.challenge_id, delivery)
        })
        .collect())
}
