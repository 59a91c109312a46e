//! Several portal instances on one database (issue 22; SPEC §3 with R9's challenge mail: a crash
//! loses no mail and sends nothing twice on purpose): each mail of the outbox is claimed by one
//! instance before it is sent; an instance that shows no sign of life leaves its claimed mail to
//! the others once its timeout has passed; a round that stops early gives its claims up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backend::mail::journal::DeliveryJournal;
use backend::mail::{deliver_due_mails, DeliverMail, DeliveryError, OutboxMail, WorkerSettings};
use backend::storage::instances::beat_instance;
use backend::storage::outbox::claim_due_outbox_mails;
use tokio::sync::watch;

use super::challenges::{add_row, mails, World};

/// Counts each Message-ID it is handed, taking a little while per mail so that two workers'
/// rounds overlap.
#[derive(Default)]
struct CountingRelay {
    seen: Mutex<HashMap<String, usize>>,
}

impl DeliverMail for CountingRelay {
    async fn deliver(&self, mail: &OutboxMail) -> Result<(), DeliveryError> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        *self
            .seen
            .lock()
            .unwrap()
            .entry(mail.message_id.clone())
            .or_default() += 1;
        Ok(())
    }
}

fn instance(id: &str) -> WorkerSettings {
    WorkerSettings {
        instance: id.to_owned(),
        batch: 40,
        ..WorkerSettings::default()
    }
}

/// `instance` shows a sign of life at `at`, as its running worker does.
async fn alive(w: &World, instance: &str, at: i64) {
    let mut conn = w.db.pool.acquire().await.unwrap();
    beat_instance(&mut conn, instance, "host-a:1", at)
        .await
        .unwrap();
}

/// `instance`, alive at `at`, claims the mail due then.
async fn claimed_by(w: &World, instance: &str, at: i64) -> Vec<OutboxMail> {
    alive(w, instance, at).await;
    let mut conn = w.db.pool.acquire().await.unwrap();
    claim_due_outbox_mails(&mut conn, instance, at, at - 60, 10)
        .await
        .unwrap()
}

/// Queues one challenge mail to each of `n` new rows.
async fn queue(w: &World, n: usize) {
    let mut ids = Vec::new();
    for i in 0..n {
        let primary = format!("person{i}@example.org");
        ids.push(add_row(&w.db.pool, w.domain.id, &primary, &[], None, true).await);
    }
    assert_eq!(w.send(&ids).await.challenges, n);
}

#[tokio::test]
async fn r09_two_instances_on_one_database_deliver_each_mail_once() {
    let w = super::challenges::world().await;
    queue(&w, 300).await;
    let relay = Arc::new(CountingRelay::default());
    let now = backend::clock::now();
    // Both alive (a running worker says so itself, see `mail::worker`).
    for id in ["a", "b"] {
        alive(&w, id, now).await;
    }

    let worker = |settings: WorkerSettings| {
        let (pool, relay) = (w.db.pool.clone(), Arc::clone(&relay));
        tokio::spawn(async move {
            let mut rounds = 0;
            while deliver_due_mails(&pool, &relay, &settings, now, None)
                .await
                .unwrap()
                .picked
                > 0
            {
                rounds += 1;
            }
            rounds
        })
    };
    let (a, b) = (worker(instance("a")), worker(instance("b")));
    let (rounds_a, rounds_b) = (a.await.unwrap(), b.await.unwrap());

    let seen = relay.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 300, "every mail delivered");
    assert!(seen.values().all(|&n| n == 1), "none twice");
    assert!(
        rounds_a > 0 && rounds_b > 0,
        "both instances worked: {rounds_a} and {rounds_b} rounds"
    );
    let all = mails(&w.db.pool).await;
    assert!(all.iter().all(|m| m.state == "sent" && m.attempts == 1));
}

#[tokio::test]
async fn r09_mail_claimed_by_an_instance_that_went_silent_is_sent_by_another_after_its_timeout() {
    let w = super::challenges::world().await;
    queue(&w, 3).await;
    let t0 = 1_800_000_000;
    // Instance "gone" claims the mail and dies before sending it.
    let claimed = claimed_by(&w, "gone", t0).await;
    assert_eq!(claimed.len(), 3);
    let relay = Arc::new(CountingRelay::default());
    let other = instance("other"); // timeout: 60 s

    let while_alive = deliver_due_mails(&w.db.pool, &relay, &other, t0 + 59, None)
        .await
        .unwrap();
    assert_eq!(
        while_alive.picked, 0,
        "its claims hold for 60 s after its last sign of life"
    );

    let after = deliver_due_mails(&w.db.pool, &relay, &other, t0 + 61, None)
        .await
        .unwrap();
    assert_eq!((after.picked, after.sent), (3, 3));
    assert_eq!(relay.seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn r09_an_instance_that_keeps_showing_signs_of_life_keeps_its_claims_however_long_it_sends() {
    let w = super::challenges::world().await;
    queue(&w, 2).await;
    let t0 = 1_800_000_000;
    claimed_by(&w, "slow", t0).await;
    // Its relay is slow (SMTP timeouts), but the process is alive and says so.
    alive(&w, "slow", t0 + 3000).await;

    let relay = Arc::new(CountingRelay::default());
    let other = deliver_due_mails(&w.db.pool, &relay, &instance("other"), t0 + 3030, None)
        .await
        .unwrap();

    assert_eq!(other.picked, 0);
    assert!(relay.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn r09_a_round_that_stops_early_gives_up_its_claims_at_once() {
    let w = super::challenges::world().await;
    queue(&w, 5).await;
    let relay = Arc::new(CountingRelay::default());
    let now = backend::clock::now();
    let (_stop, stopped) = watch::channel(true);

    let stopping = deliver_due_mails(&w.db.pool, &relay, &instance("a"), now, Some(&stopped))
        .await
        .unwrap();
    assert_eq!((stopping.picked, stopping.sent), (5, 0));

    // The other instance need not wait for a timeout: "a" is alive but gave the mail up.
    alive(&w, "a", now).await;
    let other = deliver_due_mails(&w.db.pool, &relay, &instance("b"), now, None)
        .await
        .unwrap();
    assert_eq!(other.sent, 5);
}

#[tokio::test]
async fn r09_mail_a_killed_instance_had_sent_is_recorded_from_its_journal_not_sent_again() {
    let w = super::challenges::world().await;
    queue(&w, 2).await;
    let t0 = 1_800_000_000;
    let folder = w.db.dir.path().join("outbox-journal");
    // "gone" claims both mails; the relay accepts the first, "gone" notes it in its journal and
    // is killed before it records anything in the database.
    let first = {
        let claimed = claimed_by(&w, "gone", t0).await;
        let gone = DeliveryJournal::open(&folder, "gone").unwrap();
        gone.note_sent(claimed[0].id).unwrap();
        claimed[0].clone()
    };
    let relay = Arc::new(CountingRelay::default());
    let other = WorkerSettings {
        journal: Some(Arc::new(DeliveryJournal::open(&folder, "other").unwrap())),
        ..instance("other")
    };

    let outcome = deliver_due_mails(&w.db.pool, &relay, &other, t0 + 61, None)
        .await
        .unwrap();

    assert_eq!((outcome.picked, outcome.sent), (2, 2));
    let seen = relay.seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        1,
        "only the mail the relay had not accepted is sent"
    );
    assert!(!seen.contains_key(&first.message_id));
    assert!(mails(&w.db.pool).await.iter().all(|m| m.state == "sent"));
}

/// A second portal instance on `c`'s data folder: its own pool (its own connections to the
/// SQLite file, as another process has) and the same CA, opened from the folder.
async fn second_instance(c: &super::certificates::CertWorld) -> backend::Portal {
    let config = c.portal.config.clone();
    let pool = backend::db::open_database(&config.database())
        .await
        .unwrap();
    let ca =
        backend::ca::EmbeddedCa::open(&config.ca, &config.data_dir, config.base_url()).unwrap();
    backend::Portal {
        pool,
        config,
        outbox: Arc::new(tokio::sync::Notify::new()),
        outbox_heartbeat: Arc::new(backend::mail::worker::WorkerHeartbeat::new(
            backend::clock::now(),
        )),
        ca: Arc::new(ca),
        search_matches: Default::default(),
    }
}

#[tokio::test]
async fn r15_revocations_on_two_instances_at_the_same_moment_are_both_in_the_next_crl() {
    use super::certificates::{cert_world, crl_serials, person, user};
    use backend::certificates::{current_crl, revoke_own_certificate};
    use domain::certificate::RevocationReason;

    let c = cert_world().await;
    let mut serials = Vec::new();
    let mut ids = Vec::new();
    for (who, name) in [("anna", "Anna"), ("ben", "Ben")] {
        person(c.pool(), who, name, "Tester", None).await;
        let primary = format!("{who}@example.org");
        let row = c.row(&primary, &[]).await;
        c.link(row, &[primary.as_str()], who).await;
        let cert = c
            .request(&user(who), row, &[primary.as_str()])
            .await
            .unwrap();
        serials.push(cert.serial);
        ids.push(cert.id);
    }
    let before = current_crl(&c.portal).await.unwrap();
    let other = second_instance(&c).await;
    let (anna, ben) = (user("anna"), user("ben"));

    let (a, b) = tokio::join!(
        revoke_own_certificate(&c.portal, &anna, ids[0], RevocationReason::KeyCompromise),
        revoke_own_certificate(&other, &ben, ids[1], RevocationReason::KeyCompromise),
    );

    a.unwrap();
    b.unwrap();
    // Each revocation signed a CRL in its own transaction, one after the other (the write lock):
    // two numbers, strictly rising, and the later one lists both.
    for portal in [&c.portal, &other] {
        let crl = current_crl(portal).await.unwrap();
        assert_eq!(crl.number, before.number + 2);
        let mut listed: Vec<String> = crl_serials(&crl.der).into_iter().map(|(s, _)| s).collect();
        listed.sort();
        let mut expected = serials.clone();
        expected.sort();
        assert_eq!(listed, expected);
    }
}

#[tokio::test]
async fn r15_two_instances_finding_the_crl_due_at_the_same_moment_sign_one_new_crl() {
    use backend::certificates::current_crl;

    let c = super::certificates::cert_world().await;
    let first = current_crl(&c.portal).await.unwrap();
    // A day old: both instances' refreshers (or requests for the CRL) find it due.
    backend::run!(c.pool(), ex => sqlx::query("UPDATE crl SET this_update = this_update - 86400")
        .execute(ex)
        .await.map(backend::storage::engine::Done::from))
    .unwrap();
    let other = second_instance(&c).await;

    let (a, b) = tokio::join!(current_crl(&c.portal), current_crl(&other));

    // The one that waited for the write lock finds the CRL the other just signed and serves it:
    // one new CRL, one number, not two signings in one period.
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.number, first.number + 1);
    assert_eq!(a, b);
    assert_eq!(current_crl(&other).await.unwrap(), a);
}

#[tokio::test]
async fn p2_a_search_kept_by_one_instance_sees_what_another_instance_wrote() {
    use backend::rows::{create_row, list_rows, RowInput, RowQuery};

    let c = super::certificates::cert_world().await;
    let nap = c.w.nap.clone();
    for i in 0..30 {
        let input = RowInput {
            last_name: format!("Keller {i:02}"),
            ..RowInput::default()
        };
        create_row(
            c.pool(),
            &nap,
            "example.org",
            &format!("k{i:02}@example.org"),
            &input,
        )
        .await
        .unwrap();
    }
    let query = RowQuery {
        search: "keller".into(),
        page_size: 10,
        ..RowQuery::default()
    };
    // This instance reads the search's first page and keeps its matches for the next pages.
    let first = list_rows(
        c.pool(),
        &c.portal.search_matches,
        &nap,
        "example.org",
        &query,
    )
    .await
    .unwrap();
    assert_eq!(first.total, 30);

    // Another instance (its own pool on the same file) adds a match that sorts first.
    let other = second_instance(&c).await;
    let input = RowInput {
        last_name: "Keller 00a".into(),
        ..RowInput::default()
    };
    create_row(
        &other.pool,
        &nap,
        "example.org",
        "a-keller@example.org",
        &input,
    )
    .await
    .unwrap();

    let again = list_rows(
        c.pool(),
        &c.portal.search_matches,
        &nap,
        "example.org",
        &query,
    )
    .await
    .unwrap();
    assert_eq!(
        again.total, 31,
        "the kept matches are not taken as they were"
    );
    assert_eq!(again.rows[0].primary, "a-keller@example.org");
}
