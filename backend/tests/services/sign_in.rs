//! SPEC Q7: sign-in with a local account is throttled per client address and per account, with a
//! growing delay and never a lock that keeps the account's owner out; password checks run under
//! a cap; every attempt is a sign-in event. The clock is an argument: no test waits.

use std::net::IpAddr;
use std::sync::Arc;

use backend::accounts::{create_account, NewAccount};
use backend::secret::SecretString;
use backend::sign_in::{sign_in_with_password, SignInConfig, SignInGuard, SignInRefused};
use backend::storage::sign_in_events::{list_sign_in_events, SignInEvent};
use backend::testing::{fresh_db, TestDb};

const PASSWORD: &str = "nora's long password";
const WRONG: &str = "not her password at all";
const T0: i64 = 1_900_000_000;

async fn with_nora() -> TestDb {
    let db = fresh_db().await;
    create_account(
        &db.pool,
        NewAccount {
            id: "nora".into(),
            given_name: "Nora".into(),
            family_name: "Nap".into(),
            email: None,
            groups: vec!["nap-example".into()],
            password: SecretString::from(PASSWORD),
        },
        "cli:root",
    )
    .await
    .unwrap();
    db
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

async fn try_sign_in(
    db: &TestDb,
    guard: &SignInGuard,
    password: &str,
    client: &str,
    now: i64,
) -> Result<String, SignInRefused> {
    sign_in_with_password(
        &db.pool,
        guard,
        "nora",
        &SecretString::from(password),
        ip(client),
        now,
    )
    .await
    .map(|identity| identity.user_id)
}

fn retry_after(result: Result<String, SignInRefused>) -> u64 {
    match result {
        Err(SignInRefused::Throttled { retry_after_secs }) => retry_after_secs,
        other => panic!("expected a throttled refusal, got {other:?}"),
    }
}

async fn events(db: &TestDb) -> Vec<SignInEvent> {
    let mut conn = db.pool.acquire().await.unwrap();
    let mut events = list_sign_in_events(&mut conn, None, 1000).await.unwrap();
    events.reverse();
    events
}

#[tokio::test]
async fn q7_the_wait_doubles_with_each_failure_and_the_right_password_waits_too() {
    let db = with_nora().await;
    // Only the account's limit matters here: three failures free, then 1 s, doubling.
    let guard = SignInGuard::new(SignInConfig {
        account_free_failures: 3,
        client_free_failures: 1000,
        ..SignInConfig::default()
    });
    let client = "192.0.2.10";
    for _ in 0..3 {
        assert!(matches!(
            try_sign_in(&db, &guard, WRONG, client, T0).await,
            Err(SignInRefused::BadCredentials)
        ));
    }

    // Each further attempt must wait; when it comes after the wait, it is checked (and fails),
    // and the next wait is twice as long.
    let mut now = T0;
    let mut waits = Vec::new();
    for _ in 0..5 {
        let wait = retry_after(try_sign_in(&db, &guard, WRONG, client, now).await);
        waits.push(wait);
        now += wait as i64;
        assert!(matches!(
            try_sign_in(&db, &guard, WRONG, client, now).await,
            Err(SignInRefused::BadCredentials)
        ));
    }
    assert_eq!(waits, [1, 2, 4, 8, 16]);

    // While it must wait, even the right password is refused — without being checked.
    let checked = guard.passwords_checked();
    let wait = retry_after(try_sign_in(&db, &guard, PASSWORD, client, now).await);
    assert_eq!(wait, 32);
    assert_eq!(
        retry_after(try_sign_in(&db, &guard, PASSWORD, client, now + 31).await),
        1
    );
    assert_eq!(
        guard.passwords_checked(),
        checked,
        "no hash for a throttled attempt"
    );

    // After the wait it is accepted, and the account starts afresh.
    assert_eq!(
        try_sign_in(&db, &guard, PASSWORD, client, now + 32)
            .await
            .unwrap(),
        "nora"
    );
    assert!(matches!(
        try_sign_in(&db, &guard, WRONG, client, now + 32).await,
        Err(SignInRefused::BadCredentials)
    ));
}

#[tokio::test]
async fn q7_a_client_is_held_back_by_its_own_failures_but_others_are_not() {
    let db = with_nora().await;
    let guard = SignInGuard::new(SignInConfig {
        client_free_failures: 4,
        account_free_failures: 1000,
        client_max_delay_secs: 300,
        ..SignInConfig::default()
    });
    let attacker = "198.51.100.66";
    let mut now = T0;
    let mut last_wait = 0;
    // A persistent guesser ends up at the client cap of 5 minutes a guess.
    for _ in 0..30 {
        match try_sign_in(&db, &guard, WRONG, attacker, now).await {
            Err(SignInRefused::Throttled { retry_after_secs }) => {
                last_wait = retry_after_secs;
                now += retry_after_secs as i64;
            }
            Err(SignInRefused::BadCredentials) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(last_wait, 300, "capped, not growing for ever");
    // Another address is not held back at all, and the same /64 of IPv6 counts as one client.
    assert_eq!(
        try_sign_in(&db, &guard, PASSWORD, "192.0.2.20", now)
            .await
            .unwrap(),
        "nora"
    );
    for _ in 0..4 {
        let _ = try_sign_in(&db, &guard, WRONG, "2001:db8:5:6::1", now).await;
    }
    retry_after(try_sign_in(&db, &guard, WRONG, "2001:db8:5:6::ffff", now).await);
    // Never for good: an hour of quiet later the attacker's address is taken again.
    assert!(matches!(
        try_sign_in(&db, &guard, WRONG, attacker, now + 3600).await,
        Err(SignInRefused::BadCredentials)
    ));
}

/// Guesses from ever new addresses (so no client limit applies) as fast as the account's limit
/// lets them through, until one was checked; returns the wait the account then has.
async fn botnet_guesses(db: &TestDb, guard: &SignInGuard, now: &mut i64, guesses: usize) -> u64 {
    let mut checked = 0;
    for i in 0.. {
        let bot = format!("203.0.{}.{}", i / 250, i % 250);
        match try_sign_in(db, guard, WRONG, &bot, *now).await {
            Err(SignInRefused::Throttled { retry_after_secs }) => {
                assert!(
                    retry_after_secs <= 60,
                    "the account's wait is capped at a minute"
                );
                *now += retry_after_secs as i64;
            }
            Err(SignInRefused::BadCredentials) => {
                checked += 1;
                if checked >= guesses {
                    break;
                }
            }
            other => panic!("{other:?}"),
        }
    }
    retry_after(try_sign_in(db, guard, WRONG, "198.51.100.1", *now).await)
}

#[tokio::test]
async fn q7_failures_on_an_account_from_everywhere_cannot_lock_its_owner_out() {
    let db = with_nora().await;
    let guard = SignInGuard::new(SignInConfig::default());
    let home = "192.0.2.1";
    // Nora signed in from her usual address before.
    assert_eq!(
        try_sign_in(&db, &guard, PASSWORD, home, T0).await.unwrap(),
        "nora"
    );

    // A botnet guesses her password from ever new addresses, as fast as the account's limit
    // allows: the account is throttled for clients it does not know, at most a minute a guess.
    let mut now = T0 + 10;
    let wait = botnet_guesses(&db, &guard, &mut now, 100).await;
    assert_eq!(wait, 60, "the account is throttled for unknown clients");

    // Nora from her usual address is spared the account's throttle: in at once.
    assert_eq!(
        try_sign_in(&db, &guard, PASSWORD, home, now).await.unwrap(),
        "nora"
    );
    // From a new address she waits at most the account's cap, and is then let in.
    botnet_guesses(&db, &guard, &mut now, 20).await;
    let new_place = "192.0.2.77";
    let wait = retry_after(try_sign_in(&db, &guard, PASSWORD, new_place, now).await);
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(
        try_sign_in(&db, &guard, PASSWORD, new_place, now + wait as i64)
            .await
            .unwrap(),
        "nora"
    );
}

#[tokio::test]
async fn q7_every_attempt_is_a_sign_in_event_without_the_password() {
    let db = with_nora().await;
    let guard = SignInGuard::new(SignInConfig {
        client_free_failures: 2,
        ..SignInConfig::default()
    });
    let client = "192.0.2.30";
    try_sign_in(&db, &guard, PASSWORD, client, T0)
        .await
        .unwrap();
    let _ = try_sign_in(&db, &guard, WRONG, client, T0 + 1).await;
    let _ = try_sign_in(&db, &guard, WRONG, client, T0 + 1).await;
    // Refused three times in one wait: recorded once, so a flood writes few rows.
    for _ in 0..3 {
        retry_after(try_sign_in(&db, &guard, WRONG, client, T0 + 1).await);
    }
    // A string that cannot be an account id is not repeated (it may be a password).
    let _ = sign_in_with_password(
        &db.pool,
        &guard,
        "Correct Horse Battery",
        &SecretString::from(WRONG),
        ip("192.0.2.31"),
        T0 + 2,
    )
    .await;

    let all = events(&db).await;
    let seen: Vec<(i64, &str, &str, &str, Option<i64>)> = all
        .iter()
        .map(|e| {
            (
                e.at,
                e.user_id.as_str(),
                e.client.as_str(),
                e.outcome.as_str(),
                e.retry_after_secs,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (T0, "nora", client, "success", None),
            (T0 + 1, "nora", client, "failure", None),
            (T0 + 1, "nora", client, "failure", None),
            (T0 + 1, "nora", client, "throttled", Some(1)),
            (T0 + 2, "(malformed)", "192.0.2.31", "failure", None),
        ]
    );
    let dump = format!("{all:?}").to_lowercase();
    assert!(!dump.contains(PASSWORD) && !dump.contains(WRONG) && !dump.contains("horse"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn q7_password_checks_run_under_the_cap_however_many_arrive_at_once() {
    let db = Arc::new(with_nora().await);
    let guard = Arc::new(SignInGuard::new(SignInConfig {
        concurrent_hashes: Some(2),
        client_free_failures: 1000,
        account_free_failures: 1000,
        // Long enough for all 32 to be checked, two at a time.
        hash_wait_ms: 60_000,
        ..SignInConfig::default()
    }));
    let mut attempts = tokio::task::JoinSet::new();
    for i in 0..32 {
        let (db, guard) = (db.clone(), guard.clone());
        attempts.spawn(async move {
            try_sign_in(&db, &guard, WRONG, &format!("192.0.2.{i}"), T0).await
        });
    }
    while let Some(result) = attempts.join_next().await {
        assert!(matches!(
            result.unwrap(),
            Err(SignInRefused::BadCredentials)
        ));
    }
    assert_eq!(guard.passwords_checked(), 32);
    assert!(
        (1..=2).contains(&guard.peak_concurrent_hashes()),
        "at most 2 hashes at once, saw {}",
        guard.peak_concurrent_hashes()
    );
}
