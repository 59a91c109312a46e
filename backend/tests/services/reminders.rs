//! Expiry reminders (R23) against a real SQLite file and the embedded CA: the clock is the `now`
//! each test hands the job, so nothing waits and nothing is timed.

use backend::certificates::{
    request_certificate, revoke_own_certificate, CertificateRequest, CertificateView, KeyChoice,
};
use backend::challenges::confirm_challenge;
use backend::clock;
use backend::mail::templates::REMINDER_SUBJECT;
use backend::reminders::send_due_reminders;
use backend::roles::Viewer;
use backend::storage::users::{upsert_user, UserLogin};
use backend::storage::Db;
use backend::Portal;
use domain::certificate::RevocationReason;

use super::challenges::{add_row, session_user, set_active, token_for, world, World};

const DAY: i64 = 86_400;

/// `example.org` with its NAP, and a portal opened on the test's database and folder the way the
/// server opens it (so a second `Portal::open` is a restart).
pub(super) struct R23World {
    pub(super) w: World,
    pub(super) portal: Portal,
}

pub(super) async fn r23_world() -> R23World {
    let w = world().await;
    let portal = Portal::open(config_of(&w)).await.unwrap();
    R23World { w, portal }
}

fn config_of(w: &World) -> backend::config::Config {
    let mut config = w.config.clone();
    config.data_dir = w.db.dir.path().to_owned();
    config.database = w.db.database();
    config
}

impl R23World {
    pub(super) fn pool(&self) -> &Db {
        &self.w.db.pool
    }

    /// The same database and CA opened again, as after a restart of the server.
    pub(super) async fn restarted(&self) -> Portal {
        Portal::open(config_of(&self.w)).await.unwrap()
    }

    /// A personal row of example.org whose addresses `user` has confirmed (R9–R11).
    pub(super) async fn linked_row(&self, primary: &str, user: &str) -> i64 {
        let row = add_row(self.pool(), self.w.domain.id, primary, &[], None, true).await;
        self.w.send(&[row]).await;
        let token = token_for(self.pool(), primary).await;
        confirm_challenge(self.pool(), &token, user, clock::now())
            .await
            .unwrap();
        row
    }

    /// `user` requests a certificate for the row's primary address with their own key (R13, R14).
    pub(super) async fn issue(&self, user: &str, row_id: i64, address: &str) -> CertificateView {
        request_certificate(
            &self.portal,
            &holder(user),
            CertificateRequest {
                row_id,
                addresses: vec![address.to_owned()],
                key: KeyChoice::Csr(csr_pem()),
            },
        )
        .await
        .unwrap()
        .certificate
    }
}

/// A person who has logged in; `email` is what the IdM said.
pub(super) async fn login(pool: &Db, id: &str, email: Option<&str>) {
    let mut conn = pool.acquire().await.unwrap();
    upsert_user(
        &mut conn,
        &UserLogin {
            id,
            source: "oidc",
            given_name: "Anna",
            family_name: "Schmidt",
            email,
        },
        clock::now(),
    )
    .await
    .unwrap();
}

fn holder(id: &str) -> Viewer {
    Viewer {
        user: session_user(id, &[]),
        is_operator: false,
        nap_domains: vec![],
    }
}

fn csr_pem() -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .serialize_request(&key)
        .unwrap()
        .pem()
        .unwrap()
        .into_bytes()
}

/// A queued mail: recipient, subject, plain-text body.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct Queued {
    pub(super) recipient: String,
    pub(super) subject: String,
    pub(super) body_text: String,
}

/// Every queued mail with this subject, oldest first.
pub(super) async fn queued_with_subject(pool: &Db, subject: &str) -> Vec<Queued> {
    backend::run!(pool, ex => sqlx::query_as(
        "SELECT recipient, subject, COALESCE(body_text, '') AS body_text FROM mail_outbox
         WHERE subject = $1 ORDER BY id",
    )
    .bind(subject)
    .fetch_all(ex)
    .await)
    .unwrap()
}

async fn reminders(pool: &Db) -> Vec<Queued> {
    queued_with_subject(pool, REMINDER_SUBJECT).await
}

/// The steps recorded for a certificate, largest first.
async fn steps_of(pool: &Db, certificate_id: i64) -> Vec<i64> {
    backend::run!(pool, ex => sqlx::query_scalar(
        "SELECT days_before FROM certificate_reminders WHERE certificate_id = $1
         ORDER BY days_before DESC",
    )
    .bind(certificate_id)
    .fetch_all(ex)
    .await)
    .unwrap()
}

async fn set_not_after(pool: &Db, id: i64, not_after: i64) {
    backend::run!(pool, ex => sqlx::query("UPDATE certificates SET not_after = $1 WHERE id = $2")
        .bind(not_after)
        .bind(id)
        .execute(ex)
        .await.map(backend::storage::engine::Done::from))
    .unwrap();
}

#[tokio::test]
async fn r23_reminders_go_out_30_14_7_and_1_days_before_expiry_once_each() {
    // Arrange
    let r = r23_world().await;
    login(r.pool(), "anna", Some("anna.schmidt@idm.example.org")).await;
    let row = r.linked_row("anna@example.org", "anna").await;
    let cert = r.issue("anna", row, "anna@example.org").await;
    let end = cert.not_after;

    // Act and assert: nothing 31 days before, then each step once, however often the job runs.
    assert_eq!(
        send_due_reminders(&r.portal, end - 31 * DAY).await.unwrap(),
        0
    );
    for (i, step) in [30, 14, 7, 1].into_iter().enumerate() {
        let now = end - step * DAY;
        assert_eq!(
            send_due_reminders(&r.portal, now).await.unwrap(),
            1,
            "step {step}"
        );
        assert_eq!(send_due_reminders(&r.portal, now + 3600).await.unwrap(), 0);
        let mails = reminders(r.pool()).await;
        assert_eq!(mails.len(), i + 1);
        let mail = mails.last().unwrap();
        assert_eq!(
            mail.recipient, "anna.schmidt@idm.example.org",
            "the IdM's address"
        );
        assert_eq!(mail.subject, REMINDER_SUBJECT);
        let days = if step == 1 {
            (
                "in weniger als einem Tag".to_owned(),
                "in less than a day".to_owned(),
            )
        } else {
            (format!("in {step} Tagen"), format!("in {step} days"))
        };
        assert!(
            mail.body_text.contains(&format!("läuft {} ab", days.0)),
            "{}",
            mail.body_text
        );
        assert!(mail.body_text.contains(&format!("expires {} (on", days.1)));
    }
    let text = &reminders(r.pool()).await[0].body_text;
    assert!(
        text.contains("https://ra.example.org/certificates"),
        "{text}"
    );
    assert!(text.contains("Meine Client-Zertifikate") && text.contains("My client certificates"));
    assert!(text.contains(&cert.serial) && text.contains("anna@example.org"));
    assert_eq!(steps_of(r.pool(), cert.id).await, [30, 14, 7, 1]);
    assert_eq!(
        send_due_reminders(&r.portal, end).await.unwrap(),
        0,
        "expired: none"
    );
}

#[tokio::test]
async fn r23_without_an_idm_address_the_reminder_goes_to_the_certificates_first_address() {
    let r = r23_world().await;
    login(r.pool(), "ben", None).await;
    let row = r.linked_row("ben@example.org", "ben").await;
    let cert = r.issue("ben", row, "ben@example.org").await;

    assert_eq!(
        send_due_reminders(&r.portal, cert.not_after - 20 * DAY)
            .await
            .unwrap(),
        1
    );

    assert_eq!(reminders(r.pool()).await[0].recipient, "ben@example.org");
}

#[tokio::test]
async fn r23_a_renewed_certificate_stops_the_reminders_of_the_old_one() {
    // Arrange: the old certificate is 10 days from its end, inside the renewal window (R13).
    let r = r23_world().await;
    login(r.pool(), "anna", Some("anna@idm.example.org")).await;
    let row = r.linked_row("anna@example.org", "anna").await;
    let old = r.issue("anna", row, "anna@example.org").await;
    let end = clock::now() + 10 * DAY;
    set_not_after(r.pool(), old.id, end).await;
    assert_eq!(
        send_due_reminders(&r.portal, end - 10 * DAY).await.unwrap(),
        1
    );

    // Act: she renews.
    let new = r.issue("anna", row, "anna@example.org").await;
    assert!(new.not_after > end);

    // Assert: the old one's remaining steps are never sent.
    for step in [7, 1] {
        assert_eq!(
            send_due_reminders(&r.portal, end - step * DAY)
                .await
                .unwrap(),
            0
        );
    }
    assert_eq!(reminders(r.pool()).await.len(), 1);
    assert_eq!(steps_of(r.pool(), old.id).await, [14]);
    // The new certificate gets its own reminders in time.
    assert_eq!(
        send_due_reminders(&r.portal, new.not_after - 30 * DAY)
            .await
            .unwrap(),
        1
    );
    assert_eq!(steps_of(r.pool(), new.id).await, [30]);
}

#[tokio::test]
async fn r23_a_restart_or_a_second_instance_sends_no_step_twice() {
    let r = r23_world().await;
    login(r.pool(), "anna", Some("anna@idm.example.org")).await;
    let row = r.linked_row("anna@example.org", "anna").await;
    let cert = r.issue("anna", row, "anna@example.org").await;
    let now = cert.not_after - 14 * DAY;
    assert_eq!(send_due_reminders(&r.portal, now).await.unwrap(), 1);

    // A restart: a fresh portal on the same database.
    let restarted = r.restarted().await;
    assert_eq!(send_due_reminders(&restarted, now + 60).await.unwrap(), 0);

    // Two instances at the same moment of the next step: one of them sends it.
    let later = cert.not_after - 7 * DAY;
    let (a, b) = tokio::join!(
        send_due_reminders(&r.portal, later),
        send_due_reminders(&restarted, later)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(reminders(r.pool()).await.len(), 2);
    assert_eq!(steps_of(r.pool(), cert.id).await, [14, 7]);
}

#[tokio::test]
async fn r23_after_downtime_only_the_latest_due_step_is_sent() {
    let r = r23_world().await;
    login(r.pool(), "anna", Some("anna@idm.example.org")).await;
    let row = r.linked_row("anna@example.org", "anna").await;
    let cert = r.issue("anna", row, "anna@example.org").await;

    // The portal was down from 31 to 3 days before the end: steps 30, 14 and 7 all fell due.
    assert_eq!(
        send_due_reminders(&r.portal, cert.not_after - 3 * DAY)
            .await
            .unwrap(),
        1
    );
    assert_eq!(steps_of(r.pool(), cert.id).await, [7]);
    let mails = reminders(r.pool()).await;
    assert!(
        mails[0].body_text.contains("in 3 days"),
        "{}",
        mails[0].body_text
    );

    assert_eq!(
        send_due_reminders(&r.portal, cert.not_after - 2 * DAY)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        send_due_reminders(&r.portal, cert.not_after - 600)
            .await
            .unwrap(),
        1
    );
    assert_eq!(steps_of(r.pool(), cert.id).await, [7, 1]);
}

#[tokio::test]
async fn r23_revoked_and_expired_certificates_and_deactivated_rows_get_no_reminder() {
    let r = r23_world().await;
    login(r.pool(), "anna", Some("anna@idm.example.org")).await;
    let revoked_row = r.linked_row("anna@example.org", "anna").await;
    let revoked = r.issue("anna", revoked_row, "anna@example.org").await;
    revoke_own_certificate(
        &r.portal,
        &holder("anna"),
        revoked.id,
        RevocationReason::CessationOfOperation,
    )
    .await
    .unwrap();
    let inactive_row = r.linked_row("a.schmidt@example.org", "anna").await;
    let inactive = r.issue("anna", inactive_row, "a.schmidt@example.org").await;
    set_active(r.pool(), inactive_row, false).await;

    for cert in [&revoked, &inactive] {
        assert_eq!(
            send_due_reminders(&r.portal, cert.not_after - DAY)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            send_due_reminders(&r.portal, cert.not_after + DAY)
                .await
                .unwrap(),
            0
        );
    }

    assert!(reminders(r.pool()).await.is_empty());
}

#[tokio::test]
async fn r23_the_job_looks_at_start_and_stops_on_shutdown() {
    // Arrange: a certificate 20 days from its end by the wall clock the job reads.
    let r = r23_world().await;
    login(r.pool(), "anna", Some("anna@idm.example.org")).await;
    let row = r.linked_row("anna@example.org", "anna").await;
    let cert = r.issue("anna", row, "anna@example.org").await;
    set_not_after(r.pool(), cert.id, clock::now() + 20 * DAY).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();

    // Act: the job's first look queues the reminder and wakes the outbox worker.
    let job = tokio::spawn(backend::reminders::run_reminder_job(
        r.portal.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    r.portal.outbox.notified().await;
    stop.send(()).unwrap();
    job.await.unwrap();

    // Assert
    assert_eq!(reminders(r.pool()).await.len(), 1);
    assert_eq!(steps_of(r.pool(), cert.id).await, [30]);
}
