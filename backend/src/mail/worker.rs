//! The outbox worker: delivers queued mail and records the outcome (SPEC §3).
//!
//! Mail is queued in the transaction of what caused it; this worker picks due mail in batches
//! (oldest first), sends a few at once, and records each outcome. Delivery is at-least-once: if
//! the process dies between the relay's "250 OK" and the record, the mail is sent again after
//! the restart — with the same Message-ID and Date, so a duplicate is recognisable. One worker
//! runs per database; it does not claim rows, so do not start two.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::clock;
use crate::mail::transport::{DeliverMail, DeliveryError};
use crate::storage::outbox::{self as store, OutboxMail};

/// During a burst of full batches, cleared mail bodies are erased from the files (Q8) at least
/// this often; otherwise after every round that cleared some.
const ERASE_AT_LEAST_EVERY: Duration = Duration::from_secs(1);

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Mails sent at once (at most the SMTP pool size is useful).
    pub concurrency: usize,
    /// Mails picked per round; their outcomes are recorded in one transaction.
    pub batch: i64,
    /// Looks for due mail at least this often, also without being woken.
    pub poll_interval: Duration,
    /// Wait after the first temporary failure; doubled after each further one.
    pub retry_base_secs: i64,
    /// Longest wait between two attempts.
    pub retry_cap_secs: i64,
    /// After this many attempts a mail that still fails temporarily is given up (`failed`).
    pub max_attempts: i64,
    /// Beaten by the running worker at least every `poll_interval`, so `/health` can tell it is
    /// alive; `None` where nobody asks (tests of the worker itself).
    pub heartbeat: Option<Arc<WorkerHeartbeat>>,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            concurrency: 8,
            batch: 200,
            poll_interval: Duration::from_secs(5),
            retry_base_secs: 30,
            retry_cap_secs: 3600,
            max_attempts: 10,
            heartbeat: None,
        }
    }
}

impl WorkerSettings {
    /// The wait before the next attempt after `attempts` failed ones: 30 s, 60 s, 120 s, … ≤ 1 h.
    pub fn retry_delay(&self, attempts: i64) -> i64 {
        let doublings = u32::try_from((attempts - 1).clamp(0, 30)).unwrap_or(30);
        self.retry_base_secs
            .saturating_mul(1i64 << doublings)
            .min(self.retry_cap_secs)
    }
}

/// When the outbox worker last showed a sign of life, in Unix seconds. Shared between the worker
/// (which beats) and the health check (which reads).
#[derive(Debug)]
pub struct WorkerHeartbeat {
    last_beat: AtomicI64,
}

impl WorkerHeartbeat {
    /// A heartbeat counted as beaten at `now`: a worker that is just starting is not reported
    /// dead, one that never starts is once the health check's limit has passed.
    pub fn new(now: i64) -> WorkerHeartbeat {
        WorkerHeartbeat {
            last_beat: AtomicI64::new(now),
        }
    }

    /// Records a sign of life at `now`.
    pub fn beat(&self, now: i64) {
        self.last_beat.store(now, Ordering::Relaxed);
    }

    /// Unix seconds of the last sign of life.
    pub fn last_beat(&self) -> i64 {
        self.last_beat.load(Ordering::Relaxed)
    }

    /// Seconds since the last sign of life (0 if it lies in the future).
    pub fn silent_for(&self, now: i64) -> i64 {
        (now - self.last_beat()).max(0)
    }
}

/// What one round of [`deliver_due_mails`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundOutcome {
    /// Due mails picked.
    pub picked: usize,
    /// Accepted by the relay.
    pub sent: usize,
    /// Failed temporarily; will be tried again.
    pub retried: usize,
    /// Failed for good.
    pub failed: usize,
}

/// Delivers up to one batch of the mail due at `now` and records the outcomes. Once `stop`
/// reads `true`, no further mail of the batch is started; those in flight are finished and
/// recorded, the rest stays queued.
pub async fn deliver_due_mails<T: DeliverMail>(
    pool: &SqlitePool,
    transport: &Arc<T>,
    settings: &WorkerSettings,
    now: i64,
    stop: Option<&watch::Receiver<bool>>,
) -> Result<RoundOutcome, sqlx::Error> {
    let due = {
        let mut conn = pool.acquire().await?;
        store::list_due_outbox_mails(&mut conn, now, settings.batch).await?
    };
    let mut outcome = RoundOutcome {
        picked: due.len(),
        ..RoundOutcome::default()
    };
    if due.is_empty() {
        return Ok(outcome);
    }

    let mut results: Vec<(OutboxMail, Result<(), DeliveryError>)> = Vec::with_capacity(due.len());
    let mut in_flight = JoinSet::new();
    let mut waiting = due.into_iter();
    loop {
        let stopping = stop.is_some_and(|s| *s.borrow());
        while !stopping && in_flight.len() < settings.concurrency.max(1) {
            let Some(mail) = waiting.next() else { break };
            let transport = Arc::clone(transport);
            in_flight.spawn(async move {
                let result = transport.deliver(&mail).await;
                (mail, result)
            });
        }
        match in_flight.join_next().await {
            Some(Ok(done)) => results.push(done),
            // A panicking delivery leaves its mail queued; it is tried again next round.
            Some(Err(e)) => tracing::error!(error = %e, "a mail delivery task failed"),
            None => break,
        }
    }

    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    for (mail, result) in &results {
        match result {
            Ok(()) => {
                store::mark_outbox_mail_sent(&mut tx, mail.id, now).await?;
                outcome.sent += 1;
                tracing::debug!(mail = mail.id, message_id = %mail.message_id, "mail delivered");
            }
            Err(DeliveryError::Temporary(reply)) if mail.attempts + 1 < settings.max_attempts => {
                let delay = settings.retry_delay(mail.attempts + 1);
                store::mark_outbox_mail_retry(&mut tx, mail.id, reply, now + delay).await?;
                outcome.retried += 1;
                tracing::warn!(mail = mail.id, recipient = %mail.recipient, attempts = mail.attempts + 1,
                    retry_in_secs = delay, %reply, "mail delivery failed temporarily");
            }
            Err(DeliveryError::Temporary(reply)) => {
                let reason = format!("gave up after {} attempts: {reply}", mail.attempts + 1);
                store::mark_outbox_mail_failed(&mut tx, mail.id, &reason).await?;
                outcome.failed += 1;
                tracing::warn!(mail = mail.id, recipient = %mail.recipient, %reason, "mail not delivered");
            }
            Err(DeliveryError::Permanent(reply)) => {
                store::mark_outbox_mail_failed(&mut tx, mail.id, reply).await?;
                outcome.failed += 1;
                tracing::warn!(mail = mail.id, recipient = %mail.recipient, %reply, "mail refused for good");
            }
        }
    }
    tx.commit().await?;
    Ok(outcome)
}

/// Runs until `shutdown` reads `true`: delivers due mail, then waits to be woken by `notify`
/// (a use case queued mail) or for the poll interval. Mail queued before a crash is simply found
/// again at the next start.
pub async fn run_outbox_worker<T: DeliverMail>(
    pool: SqlitePool,
    transport: Arc<T>,
    settings: WorkerSettings,
    notify: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    tracing::info!("outbox worker started");
    // Bodies cleared since the WAL was last emptied (Q8); owed until the erase succeeds.
    let mut erase_owed = false;
    let mut last_erase = tokio::time::Instant::now();
    let beat = || {
        if let Some(heartbeat) = &settings.heartbeat {
            heartbeat.beat(clock::now());
        }
    };
    loop {
        if *shutdown.borrow() {
            break;
        }
        beat();
        // A round against a slow relay may take minutes (SMTP timeouts); the worker is alive all
        // the while, so it keeps beating instead of looking dead to the health check.
        let result = {
            let round =
                deliver_due_mails(&pool, &transport, &settings, clock::now(), Some(&shutdown));
            tokio::pin!(round);
            loop {
                tokio::select! {
                    result = &mut round => break result,
                    _ = tokio::time::sleep(settings.poll_interval) => beat(),
                }
            }
        };
        let full_batch = matches!(&result,
            Ok(outcome) if outcome.picked as i64 >= settings.batch && outcome.picked > 0);
        if let Ok(outcome) = &result {
            erase_owed |= outcome.sent + outcome.failed > 0;
        }
        // The bodies just cleared held challenge links; their old bytes stay in the WAL until it
        // is emptied (Q8). A checkpoint costs ~20 ms (it syncs the database file), so during a
        // burst of full batches it runs at most once a second, and always once the queue is
        // drained.
        if erase_owed && (!full_batch || last_erase.elapsed() >= ERASE_AT_LEAST_EVERY) {
            last_erase = tokio::time::Instant::now();
            match crate::db::erase_cleared_content(&pool).await {
                Ok(true) => erase_owed = false,
                Ok(false) => {
                    tracing::debug!("the WAL is in use; erasing cleared mail bodies next round")
                }
                Err(e) => {
                    tracing::error!(error = %e, "outbox worker: could not erase cleared mail bodies")
                }
            }
        }
        match result {
            // A full batch: there is probably more due right away.
            Ok(_) if full_batch => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "outbox worker: database error"),
        }
        tokio::select! {
            _ = notify.notified() => {}
            _ = tokio::time::sleep(settings.poll_interval) => {}
            // A dropped sender can never say "stop" any more: stop now rather than spin.
            changed = shutdown.changed() => if changed.is_err() { break },
        }
    }
    tracing::info!("outbox worker stopped");
}
