//! Challenges (R7, R9–R11, R16, Q6) against a real SQLite file per test.

use backend::ServiceError;
use domain::message::Message;
use std::sync::Arc;
use std::time::Duration;

use backend::challenges::{
    challenge_for_token, confirm_challenge, delivery_of_challenges, send_challenges,
    send_to_all_unconfirmed, Delivery, SendReport,
};
use backend::clock;
use backend::config::{Config, MailConfig};
use backend::domains::register_domain;
use backend::mail::{deliver_due_mails, MailTransport, WorkerSettings};
use backend::roles::Viewer;
use backend::sessions::SessionUser;
use backend::storage::domains::DomainRecord;
use backend::storage::users::{upsert_user, UserLogin};
use backend::storage::Db;
use backend::testing::{fresh_db, TestDb};
use domain::challenge::{ChallengeState, ConfirmRefusal};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use super::{assert_audit_holds_no_secret, audit_records};

/// A registered domain `example.org` and its NAP.
pub struct World {
    pub db: TestDb,
    pub domain: DomainRecord,
    pub nap: Viewer,
    pub config: Config,
    pub outbox: Notify,
}

pub fn test_config(mail_folder: std::path::PathBuf) -> Config {
    Config {
        base_url: "https://ra.example.org/".into(),
        challenge_lifetime_hours: 24,
        mail: MailConfig {
            from: "RA Portal <ra-portal@example.org>".into(),
            smtp: None,
            folder: Some(mail_folder),
            ..MailConfig::default()
        },
        ..Config::default()
    }
}

pub async fn world() -> World {
    let db = fresh_db().await;
    let domain = register_domain(&db.pool, "cli:root", "example.org", "nap-example")
        .await
        .unwrap();
    add_user(&db.pool, "nora").await;
    let nap = Viewer {
        user: session_user("nora", &["nap-example"]),
        is_operator: false,
        nap_domains: vec![domain.clone()],
    };
    let config = test_config(db.dir.path().join("mail"));
    World {
        db,
        domain,
        nap,
        config,
        outbox: Notify::new(),
    }
}

pub fn session_user(user_id: &str, groups: &[&str]) -> SessionUser {
    SessionUser {
        user_id: user_id.into(),
        given_name: "Given".into(),
        family_name: "Family".into(),
        email: None,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        session_started_at: 0,
    }
}

/// A user who has logged in once (links and confirmations refer to `users`).
pub async fn add_user(pool: &Db, user_id: &str) {
    let mut conn = pool.acquire().await.unwrap();
    upsert_user(
        &mut conn,
        &UserLogin {
            id: user_id,
            source: "local",
            given_name: "Given",
            family_name: user_id,
            email: None,
        },
        clock::now(),
    )
    .await
    .unwrap();
}

/// A row arranged with plain SQL: `applicant` makes it functional.
pub async fn add_row(
    pool: &Db,
    domain_id: i64,
    primary: &str,
    aliases: &[&str],
    applicant: Option<&str>,
    active: bool,
) -> i64 {
    let (first, last, kind) = match applicant {
        Some(_) => ("", "Helpdesk", "functional"),
        None => ("Anna", "Schmidt", "personal"),
    };
    let id: i64 = backend::run!(pool, ex => sqlx::query_scalar(
        "INSERT INTO mailbox_rows (domain_id, primary_address, first_name, last_name, mailbox_type,
             applicant_address, active, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0) RETURNING id",
    )
    .bind(domain_id)
    .bind(primary)
    .bind(first)
    .bind(last)
    .bind(kind)
    .bind(applicant)
    .bind(active)
    .fetch_one(ex)
    .await)
    .unwrap();
    let addresses =
        std::iter::once((primary, "primary")).chain(aliases.iter().map(|a| (*a, "alias")));
    for (position, (address, kind)) in addresses.enumerate() {
        backend::run!(pool, ex => sqlx::query("INSERT INTO addresses (address, row_id, kind, position) VALUES ($1, $2, $3, $4)")
            .bind(address)
            .bind(id)
            .bind(kind)
            .bind(position as i64)
            .execute(ex)
            .await.map(backend::storage::engine::Done::from))
            .unwrap();
    }
    id
}

pub async fn set_active(pool: &Db, row_id: i64, active: bool) {
    backend::run!(pool, ex => sqlx::query("UPDATE mailbox_rows SET active = $1 WHERE id = $2")
        .bind(active)
        .bind(row_id)
        .execute(ex)
        .await.map(backend::storage::engine::Done::from))
    .unwrap();
}

#[derive(Debug, sqlx::FromRow)]
pub struct ChallengeRow {
    pub id: i64,
    pub row_id: i64,
    pub address: String,
    pub recipient: String,
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub confirmed_by: Option<String>,
}

pub async fn challenges(pool: &Db) -> Vec<ChallengeRow> {
    backend::run!(pool, ex => sqlx::query_as(
        "SELECT id, row_id, address, recipient, state, created_at, expires_at, confirmed_by
         FROM challenges ORDER BY id",
    )
    .fetch_all(ex)
    .await)
    .unwrap()
}

#[derive(Debug, sqlx::FromRow)]
pub struct MailRow {
    pub id: i64,
    pub recipient: String,
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    pub message_id: String,
    pub challenge_id: Option<i64>,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
}

pub async fn mails(pool: &Db) -> Vec<MailRow> {
    backend::run!(pool, ex => sqlx::query_as(
        "SELECT id, recipient, body_text, body_html, message_id, challenge_id, state, attempts,
                next_attempt_at, last_error
         FROM mail_outbox ORDER BY id",
    )
    .fetch_all(ex)
    .await)
    .unwrap()
}

/// The token in a queued mail's link, as the recipient would read it.
pub fn token_in(mail: &MailRow) -> String {
    let text = mail.body_text.as_deref().expect("body still there");
    let at = text.find("/confirm/").expect("a link") + "/confirm/".len();
    text[at..at + 43].to_owned()
}

/// The token of the queued mail for `address` (the latest).
pub async fn token_for(pool: &Db, address: &str) -> String {
    let all = challenges(pool).await;
    let challenge = all.iter().rev().find(|c| c.address == address).unwrap();
    let mail = mails(pool)
        .await
        .into_iter()
        .find(|m| m.challenge_id == Some(challenge.id))
        .unwrap();
    token_in(&mail)
}

impl World {
    pub async fn send(&self, row_ids: &[i64]) -> SendReport {
        send_challenges(
            &self.db.pool,
            &self.nap,
            row_ids,
            &self.config,
            &self.outbox,
        )
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn r09_send_creates_one_challenge_per_address_to_its_recipient_and_one_mail_each() {
    let w = world().await;
    let anna = add_row(
        &w.db.pool,
        w.domain.id,
        "anna@example.org",
        &["a.schmidt@example.org"],
        None,
        true,
    )
    .await;
    let desk = add_row(
        &w.db.pool,
        w.domain.id,
        "helpdesk@example.org",
        &["support@example.org"],
        Some("boss@elsewhere.net"),
        true,
    )
    .await;

    let report = w.send(&[anna, desk]).await;

    assert_eq!(
        report,
        SendReport {
            rows: 2,
            challenges: 4,
            refused: vec![]
        }
    );
    let all = challenges(&w.db.pool).await;
    let mut got = Vec::new();
    for c in &all {
        got.push((
            c.row_id,
            c.address.as_str(),
            c.recipient.as_str(),
            c.state.as_str(),
        ));
        assert_eq!(c.expires_at - c.created_at, 24 * 3600);
    }
    assert_eq!(
        got,
        [
            (anna, "anna@example.org", "anna@example.org", "pending"),
            (
                anna,
                "a.schmidt@example.org",
                "a.schmidt@example.org",
                "pending"
            ),
            (
                desk,
                "helpdesk@example.org",
                "boss@elsewhere.net",
                "pending"
            ),
            (desk, "support@example.org", "boss@elsewhere.net", "pending"),
        ]
    );
    let outbox = mails(&w.db.pool).await;
    assert_eq!(outbox.len(), 4);
    for (mail, challenge) in outbox.iter().zip(&all) {
        assert_eq!(mail.challenge_id, Some(challenge.id));
        assert_eq!(mail.recipient, challenge.recipient);
        assert_eq!(mail.state, "queued");
        assert!(
            mail.message_id.ends_with("@example.org>"),
            "{}",
            mail.message_id
        );
        let text = mail.body_text.as_deref().unwrap();
        assert!(text.contains("https://ra.example.org/confirm/"), "{text}");
        assert!(text.contains(&challenge.address));
    }
    let challenged: Vec<bool> =
        backend::run!(w.db.pool, ex => sqlx::query_scalar("SELECT challenged FROM mailbox_rows ORDER BY id")
            .fetch_all(ex)
            .await)
            .unwrap();
    assert_eq!(
        challenged,
        [true, true],
        "R3: sent rows can no longer be deleted"
    );
    // The worker was woken after the commit.
    tokio::time::timeout(Duration::from_secs(1), w.outbox.notified())
        .await
        .expect("outbox worker notified");
}

#[tokio::test]
async fn r09_resending_supersedes_the_pending_challenges_of_the_row() {
    let w = world().await;
    add_user(&w.db.pool, "anna").await;
    let anna = add_row(
        &w.db.pool,
        w.domain.id,
        "anna@example.org",
        &["a@example.org"],
        None,
        true,
    )
    .await;
    w.send(&[anna]).await;
    let old_token = token_for(&w.db.pool, "anna@example.org").await;

    let report = w.send(&[anna]).await;

    assert_eq!(report.challenges, 2);
    let states: Vec<String> = challenges(&w.db.pool)
        .await
        .into_iter()
        .map(|c| c.state)
        .collect();
    assert_eq!(states, ["superseded", "superseded", "pending", "pending"]);
    let superseded: Vec<_> = audit_records(&w.db.pool)
        .await
        .into_iter()
        .filter(|r| r.kind == "challenge_superseded")
        .map(|r| r.subject.unwrap())
        .collect();
    assert_eq!(superseded, ["anna@example.org", "a@example.org"]);
    let e = confirm_challenge(&w.db.pool, &old_token, "anna", clock::now())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ServiceError::Invalid(Message::Confirm(ConfirmRefusal::Superseded))
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("most recent email"), "{e}");
    let new_token = token_for(&w.db.pool, "anna@example.org").await;
    confirm_challenge(&w.db.pool, &new_token, "anna", clock::now())
        .await
        .unwrap();
}

#[tokio::test]
async fn r07_inactive_row_refuses_send_and_confirm() {
    let w = world().await;
    add_user(&w.db.pool, "anna").await;
    let gone = add_row(
        &w.db.pool,
        w.domain.id,
        "gone@example.org",
        &[],
        None,
        false,
    )
    .await;
    let anna = add_row(&w.db.pool, w.domain.id, "anna@example.org", &[], None, true).await;

    let report = w.send(&[gone, anna]).await;

    assert_eq!(report.rows, 1);
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].0, "gone@example.org");
    assert!(
        report.refused[0].1.to_string().contains("deactivated"),
        "{:?}",
        report.refused
    );
    assert!(challenges(&w.db.pool)
        .await
        .iter()
        .all(|c| c.row_id == anna));

    // Deactivated after the mail went out: the link shows why and cannot be confirmed.
    let token = token_for(&w.db.pool, "anna@example.org").await;
    set_active(&w.db.pool, anna, false).await;
    let view = challenge_for_token(&w.db.pool, &token, clock::now())
        .await
        .unwrap();
    assert!(!view.row_active);
    assert_eq!(view.refusal, Some(ConfirmRefusal::RowInactive));
    let e = confirm_challenge(&w.db.pool, &token, "anna", clock::now())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ServiceError::Invalid(Message::Confirm(ConfirmRefusal::RowInactive))
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("reactivate"));

    // R7: links survive deactivation; reactivating makes the same link confirmable again.
    set_active(&w.db.pool, anna, true).await;
    confirm_challenge(&w.db.pool, &token, "anna", clock::now())
        .await
        .unwrap();
}

#[tokio::test]
async fn r01_rows_of_other_domains_are_refused_like_unknown_ones() {
    let w = world().await;
    let other = register_domain(&w.db.pool, "cli:root", "other.org", "nap-other")
        .await
        .unwrap();
    let foreign = add_row(&w.db.pool, other.id, "otto@other.org", &[], None, true).await;

    let report = w.send(&[foreign, 999_999]).await;

    assert_eq!(report.rows, 0);
    let reasons: Vec<String> = report.refused.iter().map(|(_, r)| r.to_string()).collect();
    assert_eq!(
        reasons[0], reasons[1],
        "no difference between foreign and unknown rows"
    );
    assert!(challenges(&w.db.pool).await.is_empty());
    let e = send_to_all_unconfirmed(&w.db.pool, &w.nap, other.id, &w.config, &w.outbox)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not a contact person"), "{e}");
}

#[tokio::test]
async fn r09_send_to_all_unconfirmed_covers_active_rows_with_an_unlinked_address() {
    let w = world().await;
    add_user(&w.db.pool, "anna").await;
    let linked = add_row(&w.db.pool, w.domain.id, "anna@example.org", &[], None, true).await;
    w.send(&[linked]).await;
    let token = token_for(&w.db.pool, "anna@example.org").await;
    confirm_challenge(&w.db.pool, &token, "anna", clock::now())
        .await
        .unwrap();
    let half = add_row(
        &w.db.pool,
        w.domain.id,
        "ben@example.org",
        &["b@example.org"],
        None,
        true,
    )
    .await;
    backend::run!(w.db.pool, ex => sqlx::query(
        "INSERT INTO links (address, row_id, user_id, challenge_id, linked_at)
         VALUES ('ben@example.org', $1, 'anna', (SELECT MIN(id) FROM challenges), 0)",
    )
    .bind(half)
    .execute(ex)
    .await.map(backend::storage::engine::Done::from))
    .unwrap();
    let fresh = add_row(
        &w.db.pool,
        w.domain.id,
        "carla@example.org",
        &[],
        None,
        true,
    )
    .await;
    add_row(
        &w.db.pool,
        w.domain.id,
        "gone@example.org",
        &[],
        None,
        false,
    )
    .await;

    let report = send_to_all_unconfirmed(&w.db.pool, &w.nap, w.domain.id, &w.config, &w.outbox)
        .await
        .unwrap();

    assert_eq!(report.rows, 2);
    assert_eq!(report.challenges, 3);
    let pending: Vec<(i64, String)> = challenges(&w.db.pool)
        .await
        .into_iter()
        .filter(|c| c.state == "pending")
        .map(|c| (c.row_id, c.address))
        .collect();
    assert_eq!(
        pending,
        [
            (half, "ben@example.org".to_owned()),
            (half, "b@example.org".to_owned()),
            (fresh, "carla@example.org".to_owned()),
        ]
    );
}

#[tokio::test]
async fn r10_confirming_after_expiry_is_refused_and_the_challenge_reads_expired() {
    let w = world().await;
    add_user(&w.db.pool, "anna").await;
    let anna = add_row(&w.db.pool, w.domain.id, "anna@example.org", &[], None, true).await;
    w.send(&[anna]).await;
    let token = token_for(&w.db.pool, "anna@example.org").await;
    let expires_at = challenges(&w.db.pool).await[0].expires_at;

    let before = challenge_for_token(&w.db.pool, &token, expires_at - 1)
        .await
        .unwrap();
    let after = challenge_for_token(&w.db.pool, &token, expires_at)
        .await
        .unwrap();
    let e = confirm_challenge(&w.db.pool, &token, "anna", expires_at)
        .await
        .unwrap_err();

    assert_eq!(before.state, ChallengeState::Pending);
    assert_eq!(before.refusal, None);
    assert_eq!(after.state, ChallengeState::Expired);
    assert!(
        matches!(
            e,
            ServiceError::Invalid(Message::Confirm(ConfirmRefusal::Expired))
        ),
        "{e:?}"
    );
    assert!(e
        .to_string()
        .contains("Ask your network contact (NAP) to send a new challenge"));
    assert_eq!(
        challenges(&w.db.pool).await[0].state,
        "pending",
        "a refusal changes nothing"
    );
    let links: i64 =
        backend::run!(w.db.pool, ex => sqlx::query_scalar("SELECT COUNT(*) FROM links")
        .fetch_one(ex)
        .await)
        .unwrap();
    assert_eq!(links, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r10_fifty_concurrent_confirmations_of_one_token_succeed_exactly_once() {
    let w = world().await;
    for i in 0..50 {
        add_user(&w.db.pool, &format!("user{i}")).await;
    }
    let anna = add_row(&w.db.pool, w.domain.id, "anna@example.org", &[], None, true).await;
    w.send(&[anna]).await;
    let token = Arc::new(token_for(&w.db.pool, "anna@example.org").await);
    let now = clock::now();

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let pool = w.db.pool.clone();
        let token = Arc::clone(&token);
        tasks
            .spawn(async move { confirm_challenge(&pool, &token, &format!("user{i}"), now).await });
    }
    let mut successes = Vec::new();
    let mut refusals = 0;
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(c) => successes.push(c.link.new_user),
            Err(ServiceError::Invalid(Message::Confirm(ConfirmRefusal::AlreadyConfirmed))) => {
                refusals += 1
            }
            Err(e) => panic!("unexpected outcome: {e:?}"),
        }
    }

    assert_eq!(successes.len(), 1, "{successes:?}");
    assert_eq!(refusals, 49);
    let links: Vec<(String, String)> =
        backend::run!(w.db.pool, ex => sqlx::query_as("SELECT address, user_id FROM links")
        .fetch_all(ex)
        .await)
        .unwrap();
    assert_eq!(
        links,
        [("anna@example.org".to_owned(), successes[0].clone())]
    );
    let c = &challenges(&w.db.pool).await[0];
    assert_eq!(
        (c.state.as_str(), c.confirmed_by.as_ref()),
        ("confirmed", Some(&successes[0]))
    );
    let confirmed = audit_records(&w.db.pool)
        .await
        .iter()
        .filter(|r| r.kind == "challenge_confirmed")
        .count();
    assert_eq!(confirmed, 1);
}

#[tokio::test]
async fn r10_a_confirmed_challenge_cannot_be_confirmed_again() {
    let w = world().await;
    add_user(&w.db.pool, "anna").await;
    let anna = add_row(&w.db.pool, w.domain.id, "anna@example.org", &[], None, true).await;
    w.send(&[anna]).await;
    let token = token_for(&w.db.pool, "anna@example.org").await;
    confirm_challenge(&w.db.pool, &token, "anna", clock::now())
        .await
        .unwrap();

    let e = confirm_challenge(&w.db.pool, &token, "anna", clock::now())
        .await
        .unwrap_err();

    assert!(
        matches!(
            e,
            ServiceError::Invalid(Message::Confirm(ConfirmRefusal::AlreadyConfirmed))
        ),
        "{e:?}"
    );
    let view = challenge_for_token(&w.db.pool, &token, clock::now())
        .await
        .unwrap();
    assert_eq!(view.state, ChallengeState::Confirmed);
}

#[tokio::test]
async fn r11_confirming_replaces_an_earlier_link_of_the_address() {
    let w = world().await;
    add_user(&w.db.pool, "old-user").await;
    add_user(&w.db.pool, "new-user").await;
    let row = add_row(&w.db.pool, w.domain.id, "anna@example.org", &[], None, true).await;
    w.send(&[row]).await;
    let first = token_for(&w.db.pool, "anna@example.org").await;
    confirm_challenge(&w.db.pool, &first, "old-user", clock::now())
        .await
        .unwrap();
    w.send(&[row]).await;
    let second = token_for(&w.db.pool, "anna@example.org").await;

    let confirmation = confirm_challenge(&w.db.pool, &second, "new-user", clock::now())
        .await
        .unwrap();

    assert_eq!(confirmation.link.previous_user.as_deref(), Some("old-user"));
    assert!(confirmation.link.takes_over());
    let links: Vec<(String, String)> =
        backend::run!(w.db.pool, ex => sqlx::query_as("SELECT address, user_id FROM links")
        .fetch_all(ex)
        .await)
        .unwrap();
    assert_eq!(
        links,
        [("anna@example.org".to_owned(), "new-user".to_owned())]
    );
    let records = audit_records(&w.db.pool).await;
    let tail: Vec<(&str, &str, Option<&str>, Option<&str>)> = records
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(|r| {
            (
                r.kind.as_str(),
                r.actor.as_str(),
                r.before.as_deref(),
                r.after.as_deref(),
            )
        })
        .collect();
    assert_eq!(tail[0].0, "challenge_confirmed");
    assert_eq!(
        tail[1],
        (
            "link_dropped",
            "new-user",
            Some(r#"{"user_id":"old-user"}"#),
            Some(r#"{"replaced_by":"new-user"}"#)
        )
    );
    assert_eq!(tail[2].0, "link_made");
    assert_eq!(tail[2].2, Some(r#"{"user_id":"old-user"}"#));
    assert!(tail[2].3.unwrap().contains(r#""user_id":"new-user""#));
}

#[tokio::test]
async fn r16_sending_and_confirming_are_audited_and_no_record_holds_the_token() {
    let w = world().await;
    add_user(&w.db.pool, "anna").await;
    let anna = add_row(
        &w.db.pool,
        w.domain.id,
        "anna@example.org",
        &["a@example.org"],
        None,
        true,
    )
    .await;
    w.send(&[anna]).await;
    let tokens = [
        token_for(&w.db.pool, "anna@example.org").await,
        token_for(&w.db.pool, "a@example.org").await,
    ];
    confirm_challenge(&w.db.pool, &tokens[0], "anna", clock::now())
        .await
        .unwrap();

    let records = audit_records(&w.db.pool).await;

    let kinds: Vec<(&str, &str, Option<&str>)> = records
        .iter()
        .skip(1) // domain_registered
        .map(|r| (r.kind.as_str(), r.actor.as_str(), r.subject.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("challenge_sent", "nora", Some("anna@example.org")),
            ("challenge_sent", "nora", Some("a@example.org")),
            ("challenge_confirmed", "anna", Some("anna@example.org")),
            ("link_made", "anna", Some("anna@example.org")),
        ]
    );
    let sent = &records[1];
    assert_eq!(sent.row_id, Some(anna));
    assert_eq!(sent.domain_id, Some(w.domain.id));
    let after: serde_json::Value = serde_json::from_str(sent.after.as_deref().unwrap()).unwrap();
    assert_eq!(after["recipient"], "anna@example.org");
    assert!(after["expires_at"].is_i64());
    assert_audit_holds_no_secret(&w.db.pool, &[&tokens[0], &tokens[1]]).await;
}

/// Every TEXT or BLOB value of `table` that contains `needle` (as text or as bytes).
async fn columns_holding(pool: &Db, table: &str, needle: &str) -> Vec<String> {
    let columns: Vec<String> =
        backend::run!(pool, ex => sqlx::query_scalar(sqlx::AssertSqlSafe(if PG {
        format!(
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns
             WHERE table_name = '{table}' ORDER BY ordinal_position"
        )
    } else {
        format!("SELECT name FROM pragma_table_info('{table}')")
    }))
    .fetch_all(ex)
    .await)
        .unwrap();
    let mut hits = Vec::new();
    for column in columns {
        let values: Vec<Option<Vec<u8>>> =
            backend::run!(pool, ex => sqlx::query_scalar(sqlx::AssertSqlSafe(if PG {
            format!("SELECT convert_to(CAST({column} AS TEXT), 'UTF8') FROM {table}")
        } else {
            format!("SELECT CAST({column} AS BLOB) FROM {table}")
        }))
        .fetch_all(ex)
        .await)
            .unwrap();
        for value in values.into_iter().flatten() {
            if value.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                hits.push(format!("{table}.{column}"));
            }
        }
    }
    hits
}

#[tokio::test]
async fn q6_the_token_is_stored_only_as_its_hash_and_leaves_the_outbox_on_delivery() {
    let w = world().await;
    let anna = add_row(&w.db.pool, w.domain.id, "anna@example.org", &[], None, true).await;
    w.send(&[anna]).await;
    let token = token_for(&w.db.pool, "anna@example.org").await;

    for table in ["challenges", "audit_records", "links", "mailbox_rows"] {
        assert_eq!(
            columns_holding(&w.db.pool, table, &token).await,
            Vec::<String>::new()
        );
    }
    let stored: Vec<u8> =
        backend::run!(w.db.pool, ex => sqlx::query_scalar("SELECT token_hash FROM challenges")
        .fetch_one(ex)
        .await)
        .unwrap();
    assert_eq!(stored, Sha256::digest(token.as_bytes()).to_vec());
    assert_eq!(
        columns_holding(&w.db.pool, "mail_outbox", &token).await,
        ["mail_outbox.body_text", "mail_outbox.body_html"],
        "only the undelivered mail holds it"
    );

    let transport = Arc::new(MailTransport::from_config(&w.config).unwrap());
    let outcome = deliver_due_mails(
        &w.db.pool,
        &transport,
        &WorkerSettings::default(),
        clock::now(),
        None,
    )
    .await
    .unwrap();

    assert_eq!(outcome.sent, 1);
    assert_eq!(
        columns_holding(&w.db.pool, "mail_outbox", &token).await,
        Vec::<String>::new()
    );
    let mail = &mails(&w.db.pool).await[0];
    assert_eq!(
        (mail.body_text.as_ref(), mail.body_html.as_ref()),
        (None, None)
    );
}

#[tokio::test]
async fn q6_unknown_and_malformed_links_are_refused_without_repeating_the_token() {
    let w = world().await;
    add_user(&w.db.pool, "anna").await;
    let unknown = "Q".repeat(43);
    for token in [unknown.as_str(), "short", "../../etc/passwd"] {
        let e = challenge_for_token(&w.db.pool, token, clock::now())
            .await
            .unwrap_err();
        assert!(
            matches!(e, ServiceError::Invalid(Message::UnknownLink)),
            "{e:?}"
        );
        assert!(!e.to_string().contains(token));
        let e = confirm_challenge(&w.db.pool, token, "anna", clock::now())
            .await
            .unwrap_err();
        assert!(
            matches!(e, ServiceError::Invalid(Message::UnknownLink)),
            "{e:?}"
        );
        assert!(!format!("{e} {e:?}").contains(token));
    }
}

#[tokio::test]
async fn r11_opening_a_link_shows_what_will_be_linked_and_changes_nothing() {
    let w = world().await;
    let desk = add_row(
        &w.db.pool,
        w.domain.id,
        "helpdesk@example.org",
        &["support@example.org"],
        Some("boss@elsewhere.net"),
        true,
    )
    .await;
    w.send(&[desk]).await;
    let token = token_for(&w.db.pool, "support@example.org").await;
    let audit_before = audit_records(&w.db.pool).await.len();

    let view = challenge_for_token(&w.db.pool, &token, clock::now())
        .await
        .unwrap();

    assert_eq!(view.address, "support@example.org");
    assert_eq!(view.recipient, "boss@elsewhere.net");
    assert_eq!(view.row_primary, "helpdesk@example.org");
    assert_eq!(view.row_name, "Helpdesk");
    assert_eq!(view.mailbox_type, domain::mailbox::MailboxType::Functional);
    assert_eq!(view.state, ChallengeState::Pending);
    assert!(view.row_active);
    assert!(!format!("{view:?}").contains(&token));
    assert_eq!(audit_records(&w.db.pool).await.len(), audit_before);
    assert!(challenges(&w.db.pool)
        .await
        .iter()
        .all(|c| c.state == "pending"));
}

#[tokio::test]
async fn delivery_state_of_each_challenge_is_reported_for_the_table() {
    let w = world().await;
    let anna = add_row(&w.db.pool, w.domain.id, "anna@example.org", &[], None, true).await;
    w.send(&[anna]).await;
    let id = challenges(&w.db.pool).await[0].id;
    let mut conn = w.db.pool.acquire().await.unwrap();

    let queued = delivery_of_challenges(&mut conn, &[id, 12345])
        .await
        .unwrap();
    assert_eq!(
        queued.get(&id),
        Some(&Delivery::Queued {
            attempts: 0,
            last_error: None
        })
    );
    assert_eq!(queued.len(), 1);

    let transport = Arc::new(MailTransport::from_config(&w.config).unwrap());
    deliver_due_mails(
        &w.db.pool,
        &transport,
        &WorkerSettings::default(),
        1_800_000_000,
        None,
    )
    .await
    .unwrap();
    let sent = delivery_of_challenges(&mut conn, &[id]).await.unwrap();
    assert_eq!(sent.get(&id), Some(&Delivery::Sent { at: 1_800_000_000 }));
}

/// SPEC P3: challenges for 10 000 rows are enqueued in ≤ 1 s (release build). Prints the time;
/// tests never fail on timing. Run with
/// `cargo test --release -p backend --features testing --test services -- --ignored --nocapture p3_`.
#[tokio::test]
#[ignore = "benchmark: run in release with --ignored"]
async fn p3_enqueue_challenges_for_10000_rows() {
    let w = world().await;
    let rows = 10_000;
    let mut tx = w.db.pool.begin().await.unwrap();
    for i in 0..rows {
        let id: i64 = backend::run!(tx, ex => sqlx::query_scalar(
            "INSERT INTO mailbox_rows (domain_id, primary_address, first_name, last_name,
                 mailbox_type, active, created_at, updated_at)
             VALUES ($1, $2, 'Anna', 'Schmidt', 'personal', 1, 0, 0) RETURNING id",
        )
        .bind(w.domain.id)
        .bind(format!("user{i}@example.org"))
        .fetch_one(ex)
        .await)
        .unwrap();
        backend::run!(tx, ex => sqlx::query(
            "INSERT INTO addresses (address, row_id, kind, position) VALUES ($1, $2, 'primary', 0)",
        )
        .bind(format!("user{i}@example.org"))
        .bind(id)
        .execute(ex)
        .await.map(backend::storage::engine::Done::from))
        .unwrap();
        // Every tenth row has an alias, as real tables do.
        if i % 10 == 0 {
            backend::run!(tx, ex => sqlx::query(
                "INSERT INTO addresses (address, row_id, kind, position) VALUES ($1, $2, 'alias', 1)",
            )
            .bind(format!("alias{i}@example.org"))
            .bind(id)
            .execute(ex)
            .await.map(backend::storage::engine::Done::from))
            .unwrap();
        }
    }
    tx.commit().await.unwrap();
    let ids: Vec<i64> = backend::run!(w.db.pool, ex => sqlx::query_scalar("SELECT id FROM mailbox_rows ORDER BY id")
        .fetch_all(ex)
        .await)
        .unwrap();

    let first = std::time::Instant::now();
    let report = w.send(&ids).await;
    let first = first.elapsed();
    // A second round also supersedes the 11 000 pending challenges of the first.
    let second = std::time::Instant::now();
    w.send(&ids).await;
    let second = second.elapsed();

    assert_eq!(report.rows, rows);
    assert_eq!(report.challenges, 11_000);
    println!(
        "P3: challenges for {rows} rows ({} challenges and mails) enqueued in {:.0} ms; \
         a second round (superseding them) in {:.0} ms",
        report.challenges,
        first.as_secs_f64() * 1000.0,
        second.as_secs_f64() * 1000.0
    );
}
