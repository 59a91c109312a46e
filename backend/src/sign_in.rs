//! Sign-in with a local account, throttled (SPEC Q7).
//!
//! Every attempt is counted against its **client address** and its **account**. A few failures
//! are free; after that each further attempt must wait a delay that doubles with every failure
//! (1 s, 2 s, 4 s, …), up to a cap, and failures are forgotten one by one while none come (one per
//! `forget_failure_secs`), so nothing is locked for good. Attempts that must wait are refused
//! without checking the password — no hash is computed for them — and told when to come back.
//!
//! The two limits differ on purpose, so that nobody can lock a NAP out:
//! - the client's limit is the strict one (cap 5 minutes by default), but it holds back only that
//!   client;
//! - the account's limit holds back every client, so it is softer (cap 1 minute), and a client that
//!   has signed in to the account successfully before (per the sign-in events) is spared it
//!   altogether: an attacker elsewhere cannot keep the account's owner out of their own account.
//!
//! An attempt is counted as a failure *before* its password is checked (and the count is taken
//! back if the password was right), so that many attempts at once cannot slip past the limits
//! while the first ones are still being checked.
//!
//! Password hashing (argon2id, 19 MiB per hash) runs under a cap of concurrent hashes: an attempt
//! waits briefly for a slot, else it is refused as busy. The slot is held by the hashing thread
//! itself, so a client that hangs up does not free it early.
//!
//! Every attempt is recorded as a sign-in event for the operators (`ra-portal sign-ins`); of a
//! run of refused attempts only the first of each wait, so a flood writes few rows. A right
//! password of someone the IdM deactivated or deleted is refused and recorded as such (R22,
//! [`crate::idm_bar`]).
//!
//! The counters live in memory: a restart forgets them, which an attacker cannot cause.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::storage::Db;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

// The settings are a section of the configuration; named here too, where they are used.
pub use crate::config::SignInConfig;

use crate::accounts::{check_account_id, verify_password_in_slot, LoginRefused};
use crate::identity::Identity;
use crate::idm_bar::{is_barred, IdmInactive};
use crate::secret::SecretString;
use crate::storage::sign_in_events::{
    has_signed_in_from, insert_sign_in_event, list_sign_in_events, purge_sign_in_events,
    SignInEvent, SignInOutcome,
};

/// Most clients and accounts whose failures are kept in memory each; beyond, those forgotten
/// anyway go first, then the longest-quiet ones.
const MAX_TRACKED: usize = 100_000;
/// Most sign-in events kept, whatever their age (a bound under a flood of attempts).
const MAX_EVENTS: i64 = 1_000_000;

/// Why a sign-in was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignInRefused {
    /// Unknown account or wrong password: which of the two is not said.
    #[error("unknown user or wrong password")]
    BadCredentials,
    /// Too many recent failures of this client or account; the password was not checked.
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    Throttled {
        /// Seconds until an attempt is taken again.
        retry_after_secs: u64,
    },
    /// Too many passwords are being checked at once; the password was not checked.
    #[error("too many sign-ins at once; try again in {retry_after_secs} s")]
    Busy {
        /// Seconds after which to try again.
        retry_after_secs: u64,
    },
    /// The password was right, but the IdM says the person is inactive or deleted (R22): no
    /// session starts. Said only after the password was checked, so it tells a stranger nothing.
    #[error(transparent)]
    IdmInactive(#[from] IdmInactive),
    /// The check itself failed; details only in the log.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl From<LoginRefused> for SignInRefused {
    fn from(e: LoginRefused) -> Self {
        match e {
            LoginRefused::BadCredentials => SignInRefused::BadCredentials,
            LoginRefused::Internal(e) => SignInRefused::Internal(e),
        }
    }
}

/// Recent failures of one client or account.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last_at: i64,
    /// A refusal of the current wait has been recorded as an event.
    refusal_recorded: bool,
}

/// One of the two limits.
#[derive(Debug, Clone, Copy)]
struct Limit {
    free: u32,
    first_delay: u64,
    max_delay: u64,
    forget: u64,
}

impl Limit {
    /// The count of `f` at `now`, less the failures forgotten since the last one.
    fn count(&self, f: &Failures, now: i64) -> u32 {
        let quiet = u64::try_from(now - f.last_at).unwrap_or(0);
        let forgotten = u32::try_from(quiet / self.forget.max(1)).unwrap_or(u32::MAX);
        f.count.saturating_sub(forgotten)
    }

    /// Seconds until the next attempt is taken (0: now).
    fn wait(&self, f: Option<&Failures>, now: i64) -> u64 {
        let Some(f) = f else { return 0 };
        let count = self.count(f, now);
        if count < self.free {
            return 0;
        }
        let doublings = (count - self.free).min(40);
        let delay = self
            .first_delay
            .saturating_mul(1u64 << doublings)
            .min(self.max_delay);
        let until = f
            .last_at
            .saturating_add(i64::try_from(delay).unwrap_or(i64::MAX));
        u64::try_from(until - now).unwrap_or(0)
    }
}

#[derive(Debug, Default)]
struct Counters {
    clients: HashMap<IpAddr, Failures>,
    accounts: HashMap<String, Failures>,
}

/// Where to remember a failure, keeping the map bounded.
fn entry<'a, K: std::hash::Hash + Eq + Clone>(
    map: &'a mut HashMap<K, Failures>,
    key: &K,
    limit: &Limit,
    now: i64,
) -> &'a mut Failures {
    if !map.contains_key(key) && map.len() >= MAX_TRACKED {
        map.retain(|_, f| limit.count(f, now) > 0);
        if map.len() >= MAX_TRACKED {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, f)| f.last_at)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
    }
    map.entry(key.clone()).or_insert(Failures {
        count: 0,
        last_at: now,
        refusal_recorded: false,
    })
}

/// The sign-in throttle and the cap on concurrent password hashes of one portal process.
#[derive(Debug)]
pub struct SignInGuard {
    settings: SignInConfig,
    counters: Mutex<Counters>,
    hashing: Arc<Semaphore>,
    slots: usize,
    in_flight: Arc<AtomicUsize>,
    peak: AtomicUsize,
    checked: AtomicU64,
}

/// A slot for one password hash; freed when the hashing thread drops it.
#[derive(Debug)]
pub(crate) struct HashSlot {
    _permit: OwnedSemaphorePermit,
    in_flight: Arc<AtomicUsize>,
}

impl Drop for HashSlot {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl SignInGuard {
    /// A guard with no failures counted yet.
    pub fn new(settings: SignInConfig) -> SignInGuard {
        let slots = settings
            .concurrent_hashes
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(1);
        SignInGuard {
            settings,
            counters: Mutex::new(Counters::default()),
            hashing: Arc::new(Semaphore::new(slots)),
            slots,
            in_flight: Arc::new(AtomicUsize::new(0)),
            peak: AtomicUsize::new(0),
            checked: AtomicU64::new(0),
        }
    }

    /// How many passwords may be checked at once.
    pub fn hash_slots(&self) -> usize {
        self.slots
    }

    /// How many passwords this guard let be checked so far (throttled attempts are not).
    pub fn passwords_checked(&self) -> u64 {
        self.checked.load(Ordering::Acquire)
    }

    /// The most passwords that were ever checked at once by this guard.
    pub fn peak_concurrent_hashes(&self) -> usize {
        self.peak.load(Ordering::Acquire)
    }

    fn client_limit(&self) -> Limit {
        Limit {
            free: self.settings.client_free_failures,
            first_delay: self.settings.first_delay_secs,
            max_delay: self.settings.client_max_delay_secs,
            forget: self.settings.forget_failure_secs,
        }
    }

    fn account_limit(&self) -> Limit {
        Limit {
            free: self.settings.account_free_failures,
            first_delay: self.settings.first_delay_secs,
            max_delay: self.settings.account_max_delay_secs,
            forget: self.settings.forget_failure_secs,
        }
    }

    fn counters(&self) -> std::sync::MutexGuard<'_, Counters> {
        // The counters are plain numbers: a panic elsewhere cannot leave them inconsistent.
        self.counters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The waits of `client` and `account` at `now`.
    fn waits(&self, client: &IpAddr, account: &str, now: i64) -> (u64, u64) {
        let counters = self.counters();
        (
            self.client_limit().wait(counters.clients.get(client), now),
            self.account_limit()
                .wait(counters.accounts.get(account), now),
        )
    }

    /// Takes the attempt if neither limit (the account's unless `spare_account`) makes it wait,
    /// counting it as a failure of both in advance. Else the wait, and whether this refusal is
    /// the first of its wait (to be recorded).
    fn admit(
        &self,
        client: &IpAddr,
        account: &str,
        spare_account: bool,
        now: i64,
    ) -> Result<(), (u64, bool)> {
        let (client_limit, account_limit) = (self.client_limit(), self.account_limit());
        let mut counters = self.counters();
        let counters = &mut *counters;
        let client_wait = client_limit.wait(counters.clients.get(client), now);
        let account_wait = if spare_account {
            0
        } else {
            account_limit.wait(counters.accounts.get(account), now)
        };
        if client_wait > 0 || account_wait > 0 {
            let refused = if client_wait >= account_wait {
                counters.clients.get_mut(client)
            } else {
                counters.accounts.get_mut(account)
            };
            let first = refused.is_some_and(|f| !std::mem::replace(&mut f.refusal_recorded, true));
            return Err((client_wait.max(account_wait), first));
        }
        let key = account.to_owned();
        for (f, limit) in [
            (
                entry(&mut counters.clients, client, &client_limit, now),
                client_limit,
            ),
            (
                entry(&mut counters.accounts, &key, &account_limit, now),
                account_limit,
            ),
        ] {
            *f = Failures {
                count: limit.count(f, now).saturating_add(1),
                last_at: now,
                refusal_recorded: false,
            };
        }
        Ok(())
    }

    /// Takes back the failure counted in advance (the password was right, or never checked).
    /// A right password also clears the account's failures.
    fn take_back(&self, client: &IpAddr, account: &str, right_password: bool) {
        let mut counters = self.counters();
        if let Some(f) = counters.clients.get_mut(client) {
            f.count = f.count.saturating_sub(1);
        }
        if right_password {
            counters.accounts.remove(account);
        } else if let Some(f) = counters.accounts.get_mut(account) {
            f.count = f.count.saturating_sub(1);
        }
    }

    /// A slot for one password hash, waiting at most `hash_wait_ms`.
    async fn hash_slot(&self) -> Option<HashSlot> {
        let wait = Duration::from_millis(self.settings.hash_wait_ms);
        let permit = tokio::time::timeout(wait, Arc::clone(&self.hashing).acquire_owned())
            .await
            .ok()?
            .ok()?;
        let now_in_flight = self.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        self.peak.fetch_max(now_in_flight, Ordering::AcqRel);
        self.checked.fetch_add(1, Ordering::AcqRel);
        Some(HashSlot {
            _permit: permit,
            in_flight: Arc::clone(&self.in_flight),
        })
    }
}

/// The client address a request came from: the peer's, unless the peer is one of the
/// `trusted_proxies`; then the last address of `X-Forwarded-For` that is not itself a trusted
/// proxy (a client can put anything in front of that header, a proxy only appends).
pub fn client_address(
    peer: IpAddr,
    forwarded_for: Option<&str>,
    trusted_proxies: &[IpAddr],
) -> IpAddr {
    let canonical = |ip: IpAddr| ip.to_canonical();
    let peer = canonical(peer);
    if !trusted_proxies.iter().any(|p| canonical(*p) == peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let mut client = peer;
    for hop in header.rsplit(',') {
        match hop.trim().parse::<IpAddr>().map(canonical) {
            Ok(ip) => {
                client = ip;
                if !trusted_proxies.iter().any(|p| canonical(*p) == ip) {
                    break;
                }
            }
            // Garbage: the hops further left cannot be trusted either.
            Err(_) => break,
        }
    }
    client
}

/// The key a client is throttled under: its IPv4 address, or the /64 of an IPv6 address (one
/// subscriber's share; a single attacker has a whole /64 to rotate through).
fn client_key(client: IpAddr) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// Checks a local account's password from `client` at `now`, throttled as the module says, and
/// records the attempt as a sign-in event.
pub async fn sign_in_with_password(
    pool: &Db,
    guard: &SignInGuard,
    id: &str,
    password: &SecretString,
    client: IpAddr,
    now: i64,
) -> Result<Identity, SignInRefused> {
    let account: String = id.trim().to_ascii_lowercase().chars().take(65).collect();
    // What the event says: a string that cannot be an account id is not repeated (it may be a
    // password typed into the wrong field).
    let user_id = if check_account_id(&account).is_ok() {
        account.as_str()
    } else {
        "(malformed)"
    };
    let client_text = client.to_canonical().to_string();
    let key = client_key(client);
    let internal = |e: sqlx::Error| SignInRefused::Internal(Box::new(e));
    let record = |outcome: SignInOutcome, retry_after: Option<u64>| {
        let client_text = client_text.clone();
        async move {
            let mut conn = pool.acquire().await.map_err(internal)?;
            insert_sign_in_event(
                &mut conn,
                now,
                user_id,
                &client_text,
                outcome,
                retry_after.map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
            )
            .await
            .map_err(internal)
        }
    };

    // The account's throttle spares clients that signed in to it before; asked only when it
    // would apply.
    let (_, account_wait) = guard.waits(&key, &account, now);
    let spare_account = account_wait > 0 && user_id == account && {
        let since = now - i64::from(guard.settings.event_retention_days) * 86_400;
        let mut conn = pool.acquire().await.map_err(internal)?;
        has_signed_in_from(&mut conn, &account, &client_text, since)
            .await
            .map_err(internal)?
    };
    if let Err((wait, first)) = guard.admit(&key, &account, spare_account, now) {
        if first {
            record(SignInOutcome::Throttled, Some(wait)).await?;
        }
        return Err(SignInRefused::Throttled {
            retry_after_secs: wait,
        });
    }

    let Some(slot) = guard.hash_slot().await else {
        guard.take_back(&key, &account, false);
        let retry_after_secs = 1;
        record(SignInOutcome::Busy, Some(retry_after_secs)).await?;
        return Err(SignInRefused::Busy { retry_after_secs });
    };
    match verify_password_in_slot(pool, &account, password, slot).await {
        Ok(identity) => {
            guard.take_back(&key, &account, true);
            // R22: the IdM's bar, asked only of a right password (one index look-up).
            let barred = {
                let mut conn = pool.acquire().await.map_err(internal)?;
                is_barred(&mut conn, &identity.user_id)
                    .await
                    .map_err(internal)?
            };
            if barred {
                record(SignInOutcome::IdmInactive, None).await?;
                return Err(IdmInactive.into());
            }
            record(SignInOutcome::Success, None).await?;
            Ok(identity)
        }
        Err(LoginRefused::BadCredentials) => {
            record(SignInOutcome::Failure, None).await?;
            Err(SignInRefused::BadCredentials)
        }
        Err(e) => {
            guard.take_back(&key, &account, false);
            Err(e.into())
        }
    }
}

/// The newest `limit` sign-in events (of `user_id` only, when given), newest first.
pub async fn recent_sign_in_events(
    pool: &Db,
    user_id: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<SignInEvent>> {
    let mut conn = pool.acquire().await?;
    list_sign_in_events(&mut conn, user_id, limit).await
}

/// Deletes sign-in events older than the retention (and beyond a million); for the hourly
/// housekeeping. Returns how many were deleted.
pub async fn purge_old_sign_in_events(
    pool: &Db,
    settings: &SignInConfig,
    now: i64,
) -> sqlx::Result<u64> {
    let before = now - i64::from(settings.event_retention_days) * 86_400;
    let mut conn = pool.acquire().await?;
    purge_sign_in_events(&mut conn, before, MAX_EVENTS).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn q7_forwarded_for_is_taken_only_from_a_trusted_proxy() {
        let proxy = ip("10.0.0.1");
        let xff = Some("1.2.3.4, 5.6.7.8");
        // No trusted proxy (the default): the header is whatever the client wrote.
        assert_eq!(client_address(ip("9.9.9.9"), xff, &[]), ip("9.9.9.9"));
        // From the trusted proxy: the address it appended last.
        assert_eq!(client_address(proxy, xff, &[proxy]), ip("5.6.7.8"));
        // The same header from anyone else counts for nothing.
        assert_eq!(client_address(ip("9.9.9.9"), xff, &[proxy]), ip("9.9.9.9"));
        // Chained trusted proxies are skipped; garbage stops the walk.
        let inner = ip("10.0.0.2");
        assert_eq!(
            client_address(proxy, Some("1.2.3.4, 10.0.0.2"), &[proxy, inner]),
            ip("1.2.3.4")
        );
        assert_eq!(client_address(proxy, Some("nonsense"), &[proxy]), proxy);
        assert_eq!(client_address(proxy, None, &[proxy]), proxy);
        // IPv4-mapped IPv6 peers are their IPv4 address.
        assert_eq!(
            client_address(ip("::ffff:10.0.0.1"), xff, &[proxy]),
            ip("5.6.7.8")
        );
    }

    #[test]
    fn q7_ipv6_clients_are_throttled_by_their_64() {
        assert_eq!(
            client_key(ip("2001:db8:1:2:aaaa::1")),
            client_key(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            client_key(ip("2001:db8:1:2::1")),
            client_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(client_key(ip("192.0.2.7")), ip("192.0.2.7"));
    }

    #[test]
    fn q7_the_wait_doubles_is_capped_and_failures_are_forgotten() {
        let limit = Limit {
            free: 3,
            first_delay: 1,
            max_delay: 60,
            forget: 300,
        };
        let at = |count| Failures {
            count,
            last_at: 1000,
            refusal_recorded: false,
        };
        let waits: Vec<u64> = (0..12).map(|n| limit.wait(Some(&at(n)), 1000)).collect();
        assert_eq!(waits, [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
        // Waiting is waiting: the wait shrinks with time.
        assert_eq!(limit.wait(Some(&at(9)), 1050), 10);
        // 20 failures, then an hour of quiet: 12 forgotten, 8 left (wait 32 s from the last).
        assert_eq!(limit.count(&at(20), 1000 + 3600), 8);
        assert_eq!(limit.wait(Some(&at(20)), 1000 + 3600), 0);
        assert_eq!(limit.wait(Some(&at(1_000_000)), 1000), 60, "no overflow");
    }
}
