//! The outbox worker: delivers queued mail and records the outcome (SPEC §3).
//!
//! Mail is queued in the transaction of what caused it; this worker claims due mail in batches
//! (oldest first), sends a few at once, and records each outcome as soon as the relay answered.
//!
//! Several portal instances may run on one database, each with its worker: a claim gives a mail
//! to one instance, and an instance that shows no sign of life for `instance_timeout` (killed,
//! its machine gone) leaves its claimed mail to the others, which first ask the delivery journals
//! (`mail::journal`) whether the relay accepted it already. Delivery is still at-least-once where
//! nobody can know: a relay that accepted a mail after its sender died before the answer, or a
//! lost machine with its journal. Such a mail is sent again with the same Message-ID and Date, so
//! a duplicate is recognisable.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::storage::Db;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::clock;
use crate::mail::journal::DeliveryJournal;
use crate::mail::transport::{DeliverMail, DeliveryError};
use crate::storage::instances;
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
    /// This process among the instances on the database: the holder of its claims.
    pub instance: String,
    /// After this long without a sign of life in the database, an instance counts as gone and its
    /// claimed mail is sent by another one. Its signs of life come four times as often.
    pub instance_timeout: Duration,
    /// This instance's delivery journal (see `mail::journal`); `None`: mail taken over from a
    /// silent instance is sent again without asking its journal.
    pub journal: Option<Arc<DeliveryJournal>>,
}

/// A fresh instance id: 128 random bits as 32 hex digits.
pub fn new_instance_id() -> String {
    let mut bytes = [0u8; 16];
    // Without the system's randomness, time and process id still tell two processes apart.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let fallback = (u128::from(std::process::id()) << 64) ^ nanos;
        bytes = fallback.to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
            instance: new_instance_id(),
            instance_timeout: Duration::from_secs(60),
            journal: None,
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

/// Claims up to one batch of the mail due at `now`, delivers it and records each outcome as soon
/// as the relay answered. Once `stop` reads `true`, no further mail of the batch is started; those
/// in flight are finished and recorded, the claims on the rest are given up.
pub async fn deliver_due_mails<T: DeliverMail>(
    pool: &Db,
    transport: &Arc<T>,
    settings: &WorkerSettings,
    now: i64,
    stop: Option<&watch::Receiver<bool>>,
) -> Result<RoundOutcome, sqlx::Error> {
    let alive_since = now.saturating_sub(timeout_secs(settings));
    let due = {
        let mut conn = pool.acquire().await?;
        store::claim_due_outbox_mails(
            &mut conn,
            &settings.instance,
            now,
            alive_since,
            settings.batch,
        )
        .await?
    };
    let mut outcome = RoundOutcome {
        picked: due.len(),
        ..RoundOutcome::default()
    };
    if due.is_empty() {
        return Ok(outcome);
    }
    // Mail taken over from a silent instance that the relay accepted already (its journal says
    // so) is recorded as sent, not sent again.
    let (accepted, due) = accepted_before(settings, due);
    if !accepted.is_empty() {
        tracing::info!(
            mails = accepted.len(),
            "mail taken over was sent already (journal)"
        );
        let accepted: Vec<_> = accepted.into_iter().map(|m| (m, Ok(()))).collect();
        record_outcomes(pool, settings, now, &accepted, &mut outcome).await?;
    }

    let mut in_flight = JoinSet::new();
    let mut waiting = due.into_iter();
    loop {
        let stopping = stop.is_some_and(|s| *s.borrow());
        while !stopping && in_flight.len() < settings.concurrency.max(1) {
            let Some(mail) = waiting.next() else { break };
            let transport = Arc::clone(transport);
            let journal = settings.journal.clone();
            in_flight.spawn(async move {
                let result = transport.deliver(&mail).await;
                // At once, before anything else can happen to this process (see mail::journal).
                if let (Ok(()), Some(journal)) = (&result, journal) {
                    if let Err(e) = journal.note_sent(mail.id) {
                        tracing::warn!(error = %e, "could not note a delivery in the journal");
                    }
                }
                (mail, result)
            });
        }
        let Some(first) = in_flight.join_next().await else {
            break;
        };
        // Each outcome is recorded at once (with any others that are ready): a process that dies
        // leaves few outcomes unrecorded, and the journal names its sent ones to whoever takes
        // its mail over.
        let mut done = Vec::with_capacity(settings.concurrency);
        for joined in std::iter::once(first).chain(std::iter::from_fn(|| in_flight.try_join_next()))
        {
            match joined {
                Ok(delivered) => done.push(delivered),
                // A panicking delivery leaves its mail claimed; the next round takes it again.
                Err(e) => tracing::error!(error = %e, "a mail delivery task failed"),
            }
        }
        record_outcomes(pool, settings, now, &done, &mut outcome).await?;
    }
    if waiting.len() > 0 {
        let mut conn = pool.acquire().await?;
        store::release_outbox_claims(&mut conn, &settings.instance).await?;
    }
    Ok(outcome)
}

/// Splits mail taken over from other instances into what the journals name as accepted by the
/// relay and the rest, to send. Without a journal (or one that cannot be read) everything is sent.
fn accepted_before(
    settings: &WorkerSettings,
    due: Vec<OutboxMail>,
) -> (Vec<OutboxMail>, Vec<OutboxMail>) {
    let Some(journal) = &settings.journal else {
        return (Vec::new(), due);
    };
    if due.iter().all(|m| m.claimed_from.is_none()) {
        return (Vec::new(), due);
    }
    let sent = journal.all_sent().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not read the delivery journals");
        Default::default()
    });
    due.into_iter()
        .partition(|mail| mail.claimed_from.is_some() && sent.contains(&mail.id))
}

/// Forgets the instances on this machine whose process has ended (their journal's lock is free,
/// see `mail::journal`), so their claimed mail need not wait for their timeout; `forgotten`
/// remembers them across rounds.
async fn forget_gone_instances(
    pool: &Db,
    settings: &WorkerSettings,
    forgotten: &mut std::collections::HashSet<String>,
) {
    let Some(journal) = &settings.journal else {
        return;
    };
    let gone = match journal.gone_instances() {
        Ok(gone) => gone,
        Err(e) => {
            tracing::warn!(error = %e, "could not look for instances gone");
            return;
        }
    };
    for instance in gone {
        if forgotten.contains(&instance) {
            continue;
        }
        let forget = async {
            let mut conn = pool.acquire().await?;
            instances::forget_instance(&mut conn, &instance).await
        };
        match forget.await {
            Ok(()) => {
                tracing::info!(%instance, "an instance on this machine has ended; its mail is free");
                forgotten.insert(instance);
            }
            Err(e) => tracing::warn!(error = %e, "could not forget an instance gone"),
        }
    }
}

/// [`WorkerSettings::instance_timeout`] in whole seconds, at least one.
fn timeout_secs(settings: &WorkerSettings) -> i64 {
    i64::try_from(settings.instance_timeout.as_secs())
        .unwrap_or(i64::MAX)
        .max(1)
}

/// Records the relay's answers to `done` in one transaction, counting them into `outcome`.
async fn record_outcomes(
    pool: &Db,
    settings: &WorkerSettings,
    now: i64,
    done: &[(OutboxMail, Result<(), DeliveryError>)],
    outcome: &mut RoundOutcome,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin_write().await?;
    for (mail, result) in done {
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
    tx.commit().await
}

/// This process as `portal_instances.host` shows it: host name and process id.
fn host_and_pid() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}:{}", host.trim(), std::process::id())
}

/// Records one sign of life of this instance; a failure is logged (the next one may succeed).
async fn beat_in_database(pool: &Db, settings: &WorkerSettings, host: &str) {
    let beat = async {
        let mut conn = pool.acquire().await?;
        instances::beat_instance(&mut conn, &settings.instance, host, clock::now()).await
    };
    if let Err(e) = beat.await {
        tracing::warn!(error = %e, "could not record this instance's sign of life");
    }
}

/// Shows in the database that this instance is alive, four times per `instance_timeout`, until
/// `shutdown` reads `true`; then removes it, with the records of instances long gone.
async fn show_signs_of_life(
    pool: Db,
    settings: WorkerSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    let host = host_and_pid();
    let every = (settings.instance_timeout / 4).max(Duration::from_millis(250));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stop = tokio::select! {
            _ = ticks.tick() => false,
            _ = shutdown.wait_for(|stopped| *stopped) => true,
        };
        if stop {
            break;
        }
        beat_in_database(&pool, &settings, &host).await;
    }
    let gone_before = clock::now().saturating_sub(timeout_secs(&settings).saturating_mul(10));
    let removed = async {
        let mut conn = pool.acquire().await?;
        instances::remove_instances(&mut conn, &settings.instance, gone_before).await
    };
    if let Err(e) = removed.await {
        tracing::warn!(error = %e, "could not remove this instance's record");
    }
}

/// Runs until `shutdown` reads `true`: delivers due mail, then waits to be woken by `notify`
/// (a use case queued mail) or for the poll interval. Mail queued before a crash is simply found
/// again at the next start.
pub async fn run_outbox_worker<T: DeliverMail>(
    pool: Db,
    transport: Arc<T>,
    settings: WorkerSettings,
    notify: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    tracing::info!(instance = %settings.instance, "outbox worker started");
    // Its claims count while the process lives, however slow the relay (see the module's text);
    // the first sign of life comes before the first claim.
    beat_in_database(&pool, &settings, &host_and_pid()).await;
    let signs_of_life = tokio::spawn(show_signs_of_life(
        pool.clone(),
        settings.clone(),
        shutdown.clone(),
    ));
    // Bodies cleared since the WAL was last emptied (Q8); owed until the erase succeeds.
    let mut erase_owed = false;
    let mut last_erase = tokio::time::Instant::now();
    let beat = || {
        if let Some(heartbeat) = &settings.heartbeat {
            heartbeat.beat(clock::now());
        }
    };
    let mut forgotten = std::collections::HashSet::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        beat();
        forget_gone_instances(&pool, &settings, &mut forgotten).await;
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
    let _ = signs_of_life.await;
    // Every outcome is recorded: the journal is not needed any more (unless claims were left,
    // whose mail another instance may take over and must not send twice).
    let left = async {
        let mut conn = pool.acquire().await?;
        store::release_outbox_claims(&mut conn, &settings.instance).await
    };
    match (left.await, &settings.journal) {
        (Ok(0), Some(journal)) => {
            if let Err(e) = journal.remove() {
                tracing::warn!(error = %e, "could not remove the delivery journal");
            }
        }
        (Ok(_), _) => {}
        (Err(e), _) => tracing::warn!(error = %e, "could not give up this instance's claims"),
    }
    tracing::info!("outbox worker stopped");
}
