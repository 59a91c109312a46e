//! The NAPs' digest (R23) against a real SQLite file and the embedded CA, with the clock set by the
//! test: what it lists, that it stays silent with nothing to say, the opt-out, and one per period.

use backend::accounts::{create_account, NewAccount};
use backend::clock;
use backend::digest::{digest_enabled, send_due_digests, set_digest_enabled};
use backend::error::ServiceError;
use backend::handover::deactivate_rows;
use backend::mail::templates::digest_subject;
use backend::secret::SecretString;
use backend::sessions::start_session;
use backend::storage::outbox::mark_outbox_mail_failed;
use backend::storage::users::{upsert_user, UserLogin};
use backend::storage::Db;

use backend::roles::Viewer;

use super::challenges::{add_row, session_user};
use super::identity;
use super::reminders::{login, queued_with_subject, r23_world, Queued, R23World};

const DAY: i64 = 86_400;

/// `id` logs in from the IdM with `groups`; the IdM says their address is `<id>@example.org`.
async fn nap_logs_in(r: &R23World, id: &str, groups: &[&str]) {
    start_session(
        r.pool(),
        &identity(id, groups),
        clock::now(),
        &r.portal.config.session,
    )
    .await
    .unwrap();
}

async fn digests(pool: &Db) -> Vec<Queued> {
    queued_with_subject(pool, &digest_subject("example.org")).await
}

async fn version_of(pool: &Db, row: i64) -> i64 {
    backend::run!(pool, ex => sqlx::query_scalar("SELECT version FROM mailbox_rows WHERE id = $1")
        .bind(row)
        .fetch_one(ex)
        .await)
    .unwrap()
}

/// The challenge mail queued for `address` fails for good, as the worker records it.
async fn fail_challenge_mail(pool: &Db, address: &str) {
    let id: i64 = backend::run!(pool, ex => sqlx::query_scalar(
        "SELECT o.id FROM mail_outbox o JOIN challenges c ON c.id = o.challenge_id
         WHERE c.address = $1 ORDER BY o.id DESC LIMIT 1",
    )
    .bind(address)
    .fetch_one(ex)
    .await)
    .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    mark_outbox_mail_failed(&mut conn, id, "550 5.1.1 mailbox unknown")
        .await
        .unwrap();
}

#[tokio::test]
async fn r23_digest_lists_leavers_expiring_certificates_failed_and_expired_challenges() {
    // Arrange: a row whose certificate ends in 20 days, a deactivated row with a valid
    // certificate, and a row whose challenge mail failed and whose challenge then expired.
    let r = r23_world().await;
    login(r.pool(), "anna", None).await;
    login(r.pool(), "bert", None).await;
    let anna = r.linked_row("anna@example.org", "anna").await;
    let cert = r.issue("anna", anna, "anna@example.org").await;
    backend::run!(r.pool(), ex => sqlx::query("UPDATE certificates SET not_after = $1 WHERE id = $2")
        .bind(clock::now() + 20 * DAY)
        .bind(cert.id)
        .execute(ex)
        .await.map(backend::storage::engine::Done::from))
        .unwrap();
    let bert = r.linked_row("bert@example.org", "bert").await;
    r.issue("bert", bert, "bert@example.org").await;
    let version = version_of(r.pool(), bert).await;
    deactivate_rows(&r.portal, &r.w.nap, &[(bert, version)], None)
        .await
        .unwrap();
    let carl = add_row(r.pool(), r.w.domain.id, "carl@example.org", &[], None, true).await;
    r.w.send(&[carl]).await;
    fail_challenge_mail(r.pool(), "carl@example.org").await;
    // The NAPs: one from the IdM with the contact group, a local account in it; someone who
    // logged in without the group is none.
    nap_logs_in(&r, "nina", &["nap-example"]).await;
    nap_logs_in(&r, "olaf", &["staff"]).await;
    create_account(
        r.pool(),
        NewAccount {
            id: "lena".into(),
            given_name: "Lena".into(),
            family_name: "Local".into(),
            email: Some("lena@local.example.org".into()),
            groups: vec!["nap-example".into()],
            password: SecretString::from("a long enough password".to_owned()),
        },
        "cli:root",
    )
    .await
    .unwrap();
    let mut conn = r.pool().acquire().await.unwrap();
    upsert_user(
        &mut conn,
        &UserLogin {
            id: "lena",
            source: "local",
            given_name: "Lena",
            family_name: "Local",
            email: Some("lena@local.example.org"),
        },
        clock::now(),
    )
    .await
    .unwrap();
    drop(conn);

    // Act: two days later (the challenge's 24 hours are over).
    let queued = send_due_digests(&r.portal, clock::now() + 2 * DAY)
        .await
        .unwrap();

    // Assert
    assert_eq!(queued, 2);
    let mails = digests(r.pool()).await;
    let recipients: Vec<&str> = mails.iter().map(|m| m.recipient.as_str()).collect();
    assert_eq!(recipients, ["lena@local.example.org", "nina@example.org"]);
    let text = &mails[1].body_text;
    let (de, en) = text.split_once("-----").unwrap();
    assert!(
        de.contains("Deaktivierte Zeilen mit gültigen Zertifikaten"),
        "{text}"
    );
    assert!(
        en.contains("Deactivated rows with valid certificates"),
        "{text}"
    );
    assert!(en.contains("- bert@example.org (Anna Schmidt): 1 certificate(s), deadline"));
    assert!(en.contains("Certificates that expire within 30 days:\n- anna@example.org"));
    assert!(en.contains(&cert.serial));
    assert!(en.contains("could not be delivered since"));
    assert!(en.contains("carl@example.org → carl@example.org") && en.contains("550 5.1.1"));
    assert!(en.contains("Challenges that expired unconfirmed since"));
    assert!(de.contains("unbestätigt abgelaufen"));
    assert!(text.contains("https://ra.example.org/domains/example.org"));
}

#[tokio::test]
async fn r23_digest_with_nothing_to_say_sends_no_mail() {
    let r = r23_world().await;
    nap_logs_in(&r, "nina", &["nap-example"]).await;
    add_row(
        r.pool(),
        r.w.domain.id,
        "quiet@example.org",
        &[],
        None,
        true,
    )
    .await;

    assert_eq!(send_due_digests(&r.portal, clock::now()).await.unwrap(), 0);

    assert!(digests(r.pool()).await.is_empty());
    let looked: i64 = backend::run!(r.pool(), ex => sqlx::query_scalar("SELECT COUNT(*) FROM nap_digests WHERE mailed = FALSE")
        .fetch_one(ex)
        .await)
        .unwrap();
    assert_eq!(
        looked, 1,
        "the period was looked at, so it is not mailed mid-week"
    );
}

/// A domain with a deactivated row that keeps a valid certificate: news every period.
async fn world_with_a_leaver() -> R23World {
    let r = r23_world().await;
    login(r.pool(), "bert", None).await;
    let bert = r.linked_row("bert@example.org", "bert").await;
    r.issue("bert", bert, "bert@example.org").await;
    let version = version_of(r.pool(), bert).await;
    deactivate_rows(&r.portal, &r.w.nap, &[(bert, version)], None)
        .await
        .unwrap();
    nap_logs_in(&r, "nina", &["nap-example"]).await;
    r
}

#[tokio::test]
async fn r23_a_nap_who_turned_the_digest_off_gets_none() {
    let r = world_with_a_leaver().await;
    let nina = Viewer {
        user: session_user("nina", &["nap-example"]),
        is_operator: false,
        nap_domains: vec![r.w.domain.clone()],
    };
    assert!(digest_enabled(&r.portal, &nina, "example.org")
        .await
        .unwrap());

    set_digest_enabled(&r.portal, &nina, "example.org", false)
        .await
        .unwrap();

    assert!(!digest_enabled(&r.portal, &nina, "example.org")
        .await
        .unwrap());
    assert_eq!(send_due_digests(&r.portal, clock::now()).await.unwrap(), 0);
    assert!(digests(r.pool()).await.is_empty());
    // Turned on again, the next period's digest comes.
    set_digest_enabled(&r.portal, &nina, "example.org", true)
        .await
        .unwrap();
    assert_eq!(
        send_due_digests(&r.portal, clock::now() + 7 * DAY)
            .await
            .unwrap(),
        1
    );
    // Only a domain's NAPs have the setting.
    let outsider = Viewer {
        user: session_user("olaf", &["staff"]),
        is_operator: false,
        nap_domains: vec![],
    };
    assert!(matches!(
        set_digest_enabled(&r.portal, &outsider, "example.org", false).await,
        Err(ServiceError::Forbidden(_))
    ));
}

#[tokio::test]
async fn r23_digest_is_sent_once_per_period_also_after_a_restart_or_by_two_instances() {
    let r = world_with_a_leaver().await;
    let now = clock::now();
    let other = r.restarted().await;

    let (a, b) = tokio::join!(
        send_due_digests(&r.portal, now),
        send_due_digests(&other, now)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(send_due_digests(&other, now + 60).await.unwrap(), 0);
    let restarted = r.restarted().await;
    assert_eq!(send_due_digests(&restarted, now + 3600).await.unwrap(), 0);
    assert_eq!(digests(r.pool()).await.len(), 1);

    // The next period brings the next digest.
    assert_eq!(
        send_due_digests(&restarted, now + 7 * DAY).await.unwrap(),
        1
    );
    assert_eq!(digests(r.pool()).await.len(), 2);
}
