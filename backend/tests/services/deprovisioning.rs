//! IdM deprovisioning (R22) against a real SQLite file and the embedded CA, with the clock set by
//! the test: the leaver's personal row, the "propose" setting and its one-click accept, the
//! functional and the shared row, idempotence, the circuit breaker and the operator's decision,
//! a re-activation that restores nothing, and one NAPs' mail per sync run, also across a restart.

use backend::certificates::{
    certificates_of_row, current_crl, my_certificates, request_certificate, CertificateRequest,
    CertificateStatus, CertificateView, KeyChoice,
};
use backend::challenges::confirm_challenge;
use backend::clock;
use backend::config::Config;
use backend::deprovisioning::{
    accept_proposal, confirm_holds_as, deprovision_mode, deprovision_proposals, deprovision_user,
    discard_holds, dismiss_proposal, held_deprovisionings, send_run_reports, set_deprovision_mode,
};
use backend::handover::leaver_worklist;
use backend::mail::deprovisioning_mail::{run_subject, HELD_SUBJECT};
use backend::roles::Viewer;
use backend::sessions::{find_session, start_session, SessionToken};
use backend::storage::Db;
use backend::Portal;
use backend::ServiceError;
use domain::certificate::RevocationReason;
use domain::deprovisioning::{DeprovisionMode, LeaverRowKind};
use domain::message::Message;

use super::audit_records;
use super::certificates::{crl_serials, nap_of, user};
use super::challenges::{add_row, session_user, token_for, world, World};
use super::identity;
use super::reminders::{queued_with_subject, Queued};

const SCIM: &str = "scim:entra";
/// RFC 5280's code of affiliationChanged.
const AFFILIATION_CHANGED: u8 = 3;

/// `example.org` with its NAP nora, and a portal opened on the test's database the way the server
/// opens it (so a second `Portal::open` is a restart).
struct R22 {
    w: World,
    portal: Portal,
}

fn config_of(w: &World, adjust: impl FnOnce(&mut Config)) -> Config {
    let mut config = w.config.clone();
    config.data_dir = w.db.dir.path().to_owned();
    config.database = w.db.database();
    adjust(&mut config);
    config
}

async fn r22_world_with(adjust: impl FnOnce(&mut Config)) -> R22 {
    let w = world().await;
    let portal = Portal::open(config_of(&w, adjust)).await.unwrap();
    // nora logs in from the IdM with the domain's contact group: the portal knows her as its NAP
    // (and mails her at nora@example.org).
    start_session(
        &w.db.pool,
        &identity("nora", &["nap-example"]),
        clock::now(),
        &portal.config.session,
    )
    .await
    .unwrap();
    R22 { w, portal }
}

async fn r22_world() -> R22 {
    r22_world_with(|_| {}).await
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

impl R22 {
    fn pool(&self) -> &Db {
        &self.w.db.pool
    }

    /// `id` logs in from the IdM (Anna Schmidt, `<id>@example.org`); the session's token.
    async fn logs_in(&self, id: &str) -> SessionToken {
        start_session(
            self.pool(),
            &identity(id, &[]),
            clock::now(),
            &self.portal.config.session,
        )
        .await
        .unwrap()
    }

    async fn has_session(&self, token: &SessionToken) -> bool {
        find_session(
            self.pool(),
            token.expose_cookie_value(),
            clock::now(),
            &self.portal.config.session,
        )
        .await
        .unwrap()
        .is_some()
    }

    /// A row whose `addresses` the given users have confirmed, each its own (R9–R11);
    /// `applicant` makes it functional.
    async fn row(&self, primary: &str, aliases: &[&str], applicant: Option<&str>) -> i64 {
        add_row(
            self.pool(),
            self.w.domain.id,
            primary,
            aliases,
            applicant,
            true,
        )
        .await
    }

    async fn link(&self, row: i64, address: &str, user_id: &str) {
        self.w.send(&[row]).await;
        let token = token_for(self.pool(), address).await;
        confirm_challenge(self.pool(), &token, user_id, clock::now())
            .await
            .unwrap();
    }

    async fn issue(&self, user_id: &str, row: i64, address: &str) -> CertificateView {
        request_certificate(
            &self.portal,
            &user(user_id),
            CertificateRequest {
                row_id: row,
                addresses: vec![address.to_owned()],
                key: KeyChoice::Csr(csr_pem()),
            },
        )
        .await
        .unwrap()
        .certificate
    }

    /// A leaver with a personal row of their own, linked, with a valid certificate.
    async fn leaver(&self, id: &str) -> (i64, CertificateView) {
        self.logs_in(id).await;
        let address = format!("{id}@example.org");
        let row = self.row(&address, &[], None).await;
        self.link(row, &address, id).await;
        let cert = self.issue(id, row, &address).await;
        (row, cert)
    }

    async fn certificate(&self, row: i64, serial: &str) -> CertificateView {
        certificates_of_row(&self.portal, &self.w.nap, row)
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.serial == serial)
            .unwrap()
    }

    async fn active(&self, row: i64) -> bool {
        backend::run!(self.pool(), ex => sqlx::query_scalar("SELECT active FROM mailbox_rows WHERE id = $1")
            .bind(row)
            .fetch_one(ex)
            .await)
            .unwrap()
    }

    async fn links_of(&self, row: i64) -> Vec<(String, String)> {
        backend::run!(self.pool(), ex => sqlx::query_as("SELECT address, user_id FROM links WHERE row_id = $1 ORDER BY address")
            .bind(row)
            .fetch_all(ex)
            .await)
            .unwrap()
    }

    async fn count(&self, table: &str) -> i64 {
        backend::run!(self.pool(), ex => sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(ex)
            .await)
            .unwrap()
    }

    async fn run_mails(&self) -> Vec<Queued> {
        queued_with_subject(self.pool(), &run_subject("example.org")).await
    }

    async fn crl_lists(&self, serial: &str) -> Option<Option<u8>> {
        let crl = current_crl(&self.portal).await.unwrap();
        crl_serials(&crl.der)
            .into_iter()
            .find(|(s, _)| s.trim_start_matches('0') == serial.trim_start_matches('0'))
            .map(|(_, reason)| reason)
    }
}

fn revoked_reason(cert: &CertificateView) -> Option<RevocationReason> {
    match &cert.status {
        CertificateStatus::Revoked { reason, .. } => Some(*reason),
        _ => None,
    }
}

fn nora_with_email(r: &R22) -> Viewer {
    let mut nap = nap_of("nora", &r.w.domain);
    nap.user.email = Some("nora@example.org".into());
    nap
}

fn operator() -> Viewer {
    Viewer {
        user: session_user("olga", &["ra-operators"]),
        is_operator: true,
        nap_domains: vec![],
    }
}

#[tokio::test]
async fn r22_a_leavers_personal_row_is_deactivated_and_revoked_at_once() {
    let r = r22_world().await;
    let (row, cert) = r.leaver("anna").await;
    let session = r.logs_in("anna").await;
    assert!(r.has_session(&session).await);

    let now = clock::now();
    let report = deprovision_user(&r.portal, "anna", SCIM, now)
        .await
        .unwrap();

    assert_eq!(report.sessions_ended, 2, "both of anna's sessions end");
    assert!(!r.has_session(&session).await);
    assert_eq!(
        (
            report.rows_deactivated,
            report.certificates_revoked,
            report.held
        ),
        (1, 1, false)
    );
    assert!(!r.active(row).await);
    // R7: the links survive the deactivation (S5: the NAP can bring the person back).
    assert_eq!(r.links_of(row).await.len(), 1);
    let revoked = r.certificate(row, &cert.serial).await;
    assert_eq!(
        revoked_reason(&revoked),
        Some(RevocationReason::AffiliationChanged)
    );
    // R15: in the CRL at once, with its reason.
    assert_eq!(
        r.crl_lists(&cert.serial).await,
        Some(Some(AFFILIATION_CHANGED))
    );
    // The holder is told why (their IdM address), in both languages.
    let told = queued_with_subject(
        r.pool(),
        "Ihr Zertifikat wurde gesperrt / Your certificate has been revoked",
    )
    .await;
    assert!(told.iter().any(|m| m.recipient == "anna@example.org"
        && m.body_text
            .contains("identity management reported that you left")
        && m.body_text.contains("Identitätsmanagement")));
    // Every step audited with the IdM's token as actor.
    let scim: Vec<String> = audit_records(r.pool())
        .await
        .into_iter()
        .filter(|a| a.actor == SCIM)
        .map(|a| a.kind)
        .collect();
    for kind in [
        "user_deprovisioned",
        "row_deactivated",
        "certificate_revoked",
    ] {
        assert!(scim.iter().any(|k| k == kind), "{kind} in {scim:?}");
    }

    // The NAPs' mail waits until the run is quiet, then goes once.
    assert_eq!(send_run_reports(&r.portal, now + 60).await.unwrap(), 0);
    assert!(r.run_mails().await.is_empty());
    assert_eq!(send_run_reports(&r.portal, now + 5 * 60).await.unwrap(), 1);
    let mails = r.run_mails().await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].recipient, "nora@example.org");
    assert!(mails[0]
        .body_text
        .contains("anna@example.org (Anna Schmidt): row deactivated, 1 certificate(s) revoked"));
    assert!(mails[0]
        .body_text
        .contains("anna@example.org (Anna Schmidt): Zeile deaktiviert"));
    assert_eq!(send_run_reports(&r.portal, now + 600).await.unwrap(), 0);
    assert_eq!(r.run_mails().await.len(), 1);
}

#[tokio::test]
async fn r22_propose_puts_the_row_on_the_worklist_and_accept_is_the_one_step_leaver() {
    let r = r22_world().await;
    let nora = nora_with_email(&r);
    // Only the domain's NAPs change the setting; any of them may, and it is audited.
    let stranger = nap_of(
        "sam",
        &backend::storage::domains::DomainRecord {
            id: 999,
            name: "other.example".into(),
            contact_group: "nap-other".into(),
            created_at: 0,
            updated_at: 0,
        },
    );
    assert!(matches!(
        set_deprovision_mode(
            &r.portal,
            &stranger,
            "example.org",
            DeprovisionMode::Propose
        )
        .await,
        Err(ServiceError::Forbidden(_))
    ));
    assert_eq!(
        deprovision_mode(&r.portal, &nora, "example.org")
            .await
            .unwrap(),
        DeprovisionMode::Revoke
    );
    set_deprovision_mode(&r.portal, &nora, "example.org", DeprovisionMode::Propose)
        .await
        .unwrap();
    assert_eq!(
        deprovision_mode(&r.portal, &nora, "example.org")
            .await
            .unwrap(),
        DeprovisionMode::Propose
    );
    assert!(audit_records(r.pool())
        .await
        .iter()
        .any(|a| a.kind == "domain_deprovision_mode_changed" && a.actor == "nora"));

    let (row, cert) = r.leaver("anna").await;
    let (bert_row, _) = r.leaver("bert").await;
    let now = clock::now();
    let report = deprovision_user(&r.portal, "anna", SCIM, now)
        .await
        .unwrap();
    assert_eq!((report.proposed, report.certificates_revoked), (1, 0));
    assert!(r.active(row).await, "a proposal changes nothing yet");
    assert!(revoked_reason(&r.certificate(row, &cert.serial).await).is_none());
    assert!(r.crl_lists(&cert.serial).await.is_none());

    // The worklist shows "the IdM says anna left".
    let proposals = deprovision_proposals(&r.portal, &nora, "example.org", now)
        .await
        .unwrap();
    assert_eq!(proposals.len(), 1);
    let p = &proposals[0];
    assert_eq!(
        (
            p.row_id,
            p.user_id.as_str(),
            p.reported_by.as_str(),
            p.certificates
        ),
        (row, "anna", SCIM, 1)
    );
    assert_eq!(p.primary, "anna@example.org");
    // A repeated report proposes nothing new.
    let again = deprovision_user(&r.portal, "anna", SCIM, now + 10)
        .await
        .unwrap();
    assert!(again.already_done, "{again:?}");
    assert_eq!(
        deprovision_proposals(&r.portal, &nora, "example.org", now)
            .await
            .unwrap()
            .len(),
        1
    );

    // One click: deactivated and revoked in one step, the CRL lists it, nora gets a copy (R19).
    let revoked = accept_proposal(&r.portal, &nora, p.id).await.unwrap();
    assert_eq!(revoked, 1);
    assert!(!r.active(row).await);
    assert_eq!(
        revoked_reason(&r.certificate(row, &cert.serial).await),
        Some(RevocationReason::AffiliationChanged)
    );
    assert_eq!(
        r.crl_lists(&cert.serial).await,
        Some(Some(AFFILIATION_CHANGED))
    );
    assert!(queued_with_subject(
        r.pool(),
        "Ihr Zertifikat wurde gesperrt / Your certificate has been revoked"
    )
    .await
    .iter()
    .any(|m| m.recipient == "nora@example.org"));
    assert!(deprovision_proposals(&r.portal, &nora, "example.org", now)
        .await
        .unwrap()
        .is_empty());
    assert!(leaver_worklist(&r.portal, &nora, "example.org", now)
        .await
        .unwrap()
        .is_empty());
    // Deciding twice is refused, naming the proposal.
    let twice = accept_proposal(&r.portal, &nora, p.id).await;
    assert!(
        matches!(twice, Err(ServiceError::NotFound(Message::NoSuchProposal { id })) if id == p.id)
    );

    // Dismissing: the row stays as it is, and the IdM repeating itself does not bring it back.
    deprovision_user(&r.portal, "bert", SCIM, now)
        .await
        .unwrap();
    let bert = deprovision_proposals(&r.portal, &nora, "example.org", now)
        .await
        .unwrap();
    assert_eq!(bert.len(), 1);
    // Someone else's domain reads as no such proposal.
    assert!(matches!(
        dismiss_proposal(&r.portal, &stranger, bert[0].id).await,
        Err(ServiceError::NotFound(Message::NoSuchProposal { .. }))
    ));
    dismiss_proposal(&r.portal, &nora, bert[0].id)
        .await
        .unwrap();
    assert!(r.active(bert_row).await);
    assert!(
        deprovision_user(&r.portal, "bert", SCIM, now + 20)
            .await
            .unwrap()
            .already_done
    );
    let kinds: Vec<String> = audit_records(r.pool())
        .await
        .into_iter()
        .filter(|a| a.actor == "nora")
        .map(|a| a.kind)
        .collect();
    assert!(kinds.iter().any(|k| k == "deprovision_proposal_accepted"));
    assert!(kinds.iter().any(|k| k == "deprovision_proposal_dismissed"));
}

#[tokio::test]
async fn r22_s7_a_functional_row_stays_active_and_asks_for_a_new_applicant() {
    let r = r22_world().await;
    r.logs_in("anna").await;
    r.logs_in("bert").await;
    let helpdesk = r
        .row("helpdesk@example.org", &[], Some("anna@idm.example"))
        .await;
    r.link(helpdesk, "helpdesk@example.org", "anna").await;
    let mailbox_cert = r.issue("anna", helpdesk, "helpdesk@example.org").await;
    // A personal row shared with bert: anna's alias, bert's primary.
    let shared = r
        .row("team@example.org", &["anna.team@example.org"], None)
        .await;
    r.w.send(&[shared]).await;
    for (address, who) in [
        ("team@example.org", "bert"),
        ("anna.team@example.org", "anna"),
    ] {
        let token = token_for(r.pool(), address).await;
        confirm_challenge(r.pool(), &token, who, clock::now())
            .await
            .unwrap();
    }
    let bert_cert = r.issue("bert", shared, "team@example.org").await;

    let now = clock::now();
    let report = deprovision_user(&r.portal, "anna", SCIM, now)
        .await
        .unwrap();
    assert_eq!(
        (
            report.rows_deactivated,
            report.links_dropped,
            report.certificates_revoked
        ),
        (0, 2, 1)
    );
    // The mailbox stays active without anna's link; her certificate for it is revoked.
    assert!(r.active(helpdesk).await);
    assert!(r.links_of(helpdesk).await.is_empty());
    assert_eq!(
        revoked_reason(&r.certificate(helpdesk, &mailbox_cert.serial).await),
        Some(RevocationReason::AffiliationChanged)
    );
    // The shared row keeps bert's link and certificate.
    assert!(r.active(shared).await);
    assert_eq!(
        r.links_of(shared).await,
        [("team@example.org".to_owned(), "bert".to_owned())]
    );
    assert!(revoked_reason(&r.certificate(shared, &bert_cert.serial).await).is_none());
    assert!(audit_records(r.pool())
        .await
        .iter()
        .any(|a| a.kind == "link_dropped" && a.actor == SCIM));

    // The NAP is asked for a new applicant (S7).
    send_run_reports(&r.portal, now + 300).await.unwrap();
    let mails = r.run_mails().await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0]
        .body_text
        .contains("helpdesk@example.org (Anna Schmidt): functional mailbox stays active"));
    assert!(mails[0].body_text.contains("Please enter a new applicant"));
    assert!(mails[0].body_text.contains("neuen Antragsteller"));
    assert!(mails[0]
        .body_text
        .contains("team@example.org (Anna Schmidt): 1 link(s) dropped"));
}

#[tokio::test]
async fn r22_a_second_report_of_the_same_leaver_changes_nothing() {
    let r = r22_world().await;
    let (row, _) = r.leaver("anna").await;
    let now = clock::now();
    let first = deprovision_user(&r.portal, "anna", SCIM, now)
        .await
        .unwrap();
    assert!(!first.already_done);
    let audit = audit_records(r.pool()).await.len();
    let mails = r.count("mail_outbox").await;
    let crl = current_crl(&r.portal).await.unwrap().number;

    let second = deprovision_user(&r.portal, "anna", SCIM, now + 30)
        .await
        .unwrap();
    assert!(second.already_done, "{second:?}");
    assert_eq!((second.sessions_ended, second.certificates_revoked), (0, 0));
    assert_eq!(audit_records(r.pool()).await.len(), audit);
    assert_eq!(r.count("mail_outbox").await, mails);
    assert_eq!(r.count("deprovisionings").await, 1);
    assert_eq!(current_crl(&r.portal).await.unwrap().number, crl);
    assert!(!r.active(row).await);
    // Someone the portal never saw: nothing to do, nothing written.
    let unknown = deprovision_user(&r.portal, "zoe", SCIM, now).await.unwrap();
    assert!(unknown.already_done);
    assert_eq!(r.count("deprovisionings").await, 1);
}

#[tokio::test]
async fn r22_the_breaker_holds_a_mass_deprovisioning_for_an_operator() {
    // More than 2 within the hour trips it (the percentage never does here).
    let r = r22_world_with(|c| {
        c.deprovisioning.max_per_window = 2;
        c.deprovisioning.percent_floor = 1000;
    })
    .await;
    start_session(
        r.pool(),
        &identity("olga", &["ra-operators"]),
        clock::now(),
        &r.portal.config.session,
    )
    .await
    .unwrap();
    let mut leavers = Vec::new();
    for id in ["anna", "bert", "carl", "dora"] {
        leavers.push(r.leaver(id).await);
    }
    let session = r.logs_in("carl").await;
    let now = clock::now();
    for (i, id) in ["anna", "bert"].into_iter().enumerate() {
        let report = deprovision_user(&r.portal, id, SCIM, now + i as i64)
            .await
            .unwrap();
        assert!(!report.held && report.certificates_revoked == 1);
    }
    // The third trips it: sessions end, nothing is revoked or deactivated.
    let carl = deprovision_user(&r.portal, "carl", SCIM, now + 2)
        .await
        .unwrap();
    assert!(carl.held);
    assert!(carl.sessions_ended >= 1 && !r.has_session(&session).await);
    assert_eq!((carl.rows_deactivated, carl.certificates_revoked), (0, 0));
    let (carl_row, carl_cert) = &leavers[2];
    assert!(r.active(*carl_row).await);
    assert!(r.crl_lists(&carl_cert.serial).await.is_none());
    // It stays open until an operator decides, whatever the count.
    let dora = deprovision_user(&r.portal, "dora", SCIM, now + 3)
        .await
        .unwrap();
    assert!(dora.held);
    // A repeated report of a held one adds nothing.
    assert!(
        deprovision_user(&r.portal, "carl", SCIM, now + 4)
            .await
            .unwrap()
            .already_done
    );

    let held = held_deprovisionings(&r.portal).await.unwrap();
    assert_eq!(
        held.iter().map(|h| h.user_id.as_str()).collect::<Vec<_>>(),
        ["carl", "dora"]
    );
    assert_eq!(held[0].rows.len(), 1);
    assert_eq!(held[0].rows[0].primary, "carl@example.org");
    assert_eq!(held[0].rows[0].kind, LeaverRowKind::Personal);
    assert_eq!(held[0].actor, SCIM);

    // The operators are told once, the NAPs get the run's list with the held rows in it.
    send_run_reports(&r.portal, now + 600).await.unwrap();
    let notes = queued_with_subject(r.pool(), HELD_SUBJECT).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].recipient, "olga@example.org");
    assert!(notes[0].body_text.contains("held 2 deprovisioning(s)"));
    let run = r.run_mails().await;
    assert_eq!(run.len(), 1);
    assert!(run[0]
        .body_text
        .contains("carl@example.org (Anna Schmidt): held by the circuit breaker"));

    // Only operators decide.
    assert!(matches!(
        confirm_holds_as(&r.portal, &nora_with_email(&r), &[held[0].id]).await,
        Err(ServiceError::Forbidden(_))
    ));
    // Confirm applies carl's as of now; discard drops dora's.
    let later = now + 3600;
    let confirmed = confirm_holds_as(&r.portal, &operator(), &[held[0].id])
        .await
        .unwrap();
    assert_eq!(
        (
            confirmed.deprovisionings,
            confirmed.applied.rows_deactivated,
            confirmed.applied.certificates_revoked
        ),
        (1, 1, 1)
    );
    assert!(!r.active(*carl_row).await);
    assert_eq!(
        r.crl_lists(&carl_cert.serial).await,
        Some(Some(AFFILIATION_CHANGED))
    );
    discard_holds(&r.portal, "olga", &[held[1].id], later)
        .await
        .unwrap();
    let (dora_row, dora_cert) = &leavers[3];
    assert!(r.active(*dora_row).await);
    assert!(revoked_reason(&r.certificate(*dora_row, &dora_cert.serial).await).is_none());
    assert!(held_deprovisionings(&r.portal).await.unwrap().is_empty());
    // Decided is decided; a discarded report repeated by the IdM changes nothing.
    assert!(matches!(
        discard_holds(&r.portal, "olga", &[held[0].id], later).await,
        Err(ServiceError::NotFound(Message::NoSuchHold { .. }))
    ));
    assert!(
        deprovision_user(&r.portal, "dora", SCIM, later)
            .await
            .unwrap()
            .already_done
    );
    let kinds: Vec<String> = audit_records(r.pool())
        .await
        .into_iter()
        .filter(|a| a.actor == "olga")
        .map(|a| a.kind)
        .collect();
    assert!(kinds.iter().any(|k| k == "deprovisioning_confirmed"));
    assert!(kinds.iter().any(|k| k == "deprovisioning_discarded"));
    assert!(kinds.iter().any(|k| k == "certificate_revoked"));
    // The breaker is closed again: the next leaver is applied (outside the window).
    let (eve_row, _) = r.leaver("eve").await;
    let eve = deprovision_user(&r.portal, "eve", SCIM, later + 7200)
        .await
        .unwrap();
    assert!(!eve.held);
    assert!(!r.active(eve_row).await);
}

#[tokio::test]
async fn r22_s5_a_reactivation_in_the_idm_restores_nothing() {
    let r = r22_world().await;
    let (row, cert) = r.leaver("anna").await;
    deprovision_user(&r.portal, "anna", SCIM, clock::now())
        .await
        .unwrap();
    // The IdM re-activates anna and she logs in again: nothing comes back by itself.
    let session = r.logs_in("anna").await;
    assert!(r.has_session(&session).await);
    assert!(!r.active(row).await);
    assert!(revoked_reason(&r.certificate(row, &cert.serial).await).is_some());
    let mine = my_certificates(&r.portal, &user("anna")).await.unwrap();
    assert!(
        mine.rows.iter().all(|row| row.refusal.is_some()),
        "{mine:?}"
    );
    // S5: the NAP reactivates the row; her link still holds, so she can request again.
    let version: i64 = backend::run!(r.pool(), ex => sqlx::query_scalar("SELECT version FROM mailbox_rows WHERE id = $1")
        .bind(row)
        .fetch_one(ex)
        .await)
        .unwrap();
    backend::rows::set_active(r.pool(), &r.w.nap, &[(row, version)], true)
        .await
        .unwrap();
    let again = r.issue("anna", row, "anna@example.org").await;
    assert!(matches!(again.status, CertificateStatus::Valid));
}

#[tokio::test]
async fn r22_one_mail_per_sync_run_also_across_a_restart() {
    let r = r22_world().await;
    r.leaver("anna").await;
    r.leaver("bert").await;
    r.leaver("carl").await;
    let now = clock::now();
    deprovision_user(&r.portal, "anna", SCIM, now)
        .await
        .unwrap();
    deprovision_user(&r.portal, "bert", SCIM, now + 120)
        .await
        .unwrap();
    // Two minutes after bert the run is not over yet.
    assert_eq!(send_run_reports(&r.portal, now + 240).await.unwrap(), 0);
    // Quiet: one mail lists both.
    assert_eq!(send_run_reports(&r.portal, now + 420).await.unwrap(), 1);
    let mails = r.run_mails().await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].body_text.contains("anna@example.org"));
    assert!(mails[0].body_text.contains("bert@example.org"));

    // After a restart (the same database and CA opened again) nothing goes twice.
    let restarted = Portal::open(config_of(&r.w, |_| {})).await.unwrap();
    assert_eq!(send_run_reports(&restarted, now + 900).await.unwrap(), 0);
    assert_eq!(r.run_mails().await.len(), 1);

    // A later run gets its own mail, listing only its own leaver.
    deprovision_user(&restarted, "carl", SCIM, now + 3600)
        .await
        .unwrap();
    assert_eq!(
        send_run_reports(&restarted, now + 3600 + 300)
            .await
            .unwrap(),
        1
    );
    let mails = r.run_mails().await;
    assert_eq!(mails.len(), 2);
    assert!(mails[1].body_text.contains("carl@example.org"));
    assert!(!mails[1].body_text.contains("anna@example.org"));
}

/// The embedded CA whose CRL signing fails: a signing device that is unreachable.
#[derive(Debug)]
struct CrlDownCa(backend::ca::EmbeddedCa);

impl backend::ca::CertificateAuthority for CrlDownCa {
    fn chain_der(&self) -> Vec<Vec<u8>> {
        self.0.chain_der()
    }

    fn issue<'a>(
        &'a self,
        request: &'a backend::ca::IssueRequest,
    ) -> backend::ca::CaFuture<'a, backend::ca::IssuedCertificate> {
        self.0.issue(request)
    }

    fn sign_crl<'a>(
        &'a self,
        _: &'a backend::ca::CrlRequest,
    ) -> backend::ca::CaFuture<'a, Vec<u8>> {
        Box::pin(std::future::ready(Err(backend::ca::CaError::Failed(
            "the signing device is unreachable".into(),
        ))))
    }
}

#[tokio::test]
async fn r22_a_failure_changes_nothing_but_the_sessions_still_end() {
    let r = r22_world().await;
    let (row, cert) = r.leaver("anna").await;
    let session = r.logs_in("anna").await;
    let config = &r.portal.config;
    let ca =
        backend::ca::EmbeddedCa::open(&config.ca, &config.data_dir, config.base_url()).unwrap();
    let broken = Portal {
        ca: std::sync::Arc::new(CrlDownCa(ca)),
        ..r.portal.clone()
    };
    let mails = r.count("mail_outbox").await;

    let failed = deprovision_user(&broken, "anna", SCIM, clock::now()).await;
    assert!(failed.is_err(), "{failed:?}");
    // Nothing of the deprovisioning landed: the row is active, the certificate valid, no record.
    assert!(r.active(row).await);
    assert!(revoked_reason(&r.certificate(row, &cert.serial).await).is_none());
    assert_eq!(r.count("deprovisionings").await, 0);
    assert_eq!(r.count("deprovision_items").await, 0);
    assert_eq!(r.count("mail_outbox").await, mails);
    assert_eq!(r.count("revocations").await, 0);
    // … but anna is signed out, and the trail says so.
    assert!(!r.has_session(&session).await);
    let records = audit_records(r.pool()).await;
    let ended = records
        .iter()
        .filter(|a| a.actor == SCIM)
        .collect::<Vec<_>>();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0].kind, "user_deprovisioned");
    assert!(ended[0].after.as_deref().unwrap().contains("not yet"));

    // The IdM repeats the report once the CA is back: now it is applied.
    let report = deprovision_user(&r.portal, "anna", SCIM, clock::now())
        .await
        .unwrap();
    assert_eq!(
        (report.rows_deactivated, report.certificates_revoked),
        (1, 1)
    );
    assert_eq!(
        r.crl_lists(&cert.serial).await,
        Some(Some(AFFILIATION_CHANGED))
    );
}

#[tokio::test]
async fn r22_a_sync_that_never_pauses_is_reported_after_max_run_minutes() {
    let r = r22_world_with(|c| {
        c.deprovisioning.quiet_minutes = 5;
        c.deprovisioning.max_run_minutes = 15;
    })
    .await;
    let ids = ["anna", "bert", "carl", "dora", "emil"];
    for id in ids {
        r.leaver(id).await;
    }
    let start = clock::now();
    // One leaver every 4 minutes: never 5 quiet minutes.
    for (i, id) in ids.into_iter().enumerate() {
        let at = start + i as i64 * 240;
        deprovision_user(&r.portal, id, SCIM, at).await.unwrap();
        let sent = send_run_reports(&r.portal, at).await.unwrap();
        // At 16 minutes the oldest news (0) is 15 minutes old: reported, all five at once.
        assert_eq!(sent, usize::from(i == 4), "after {id}");
    }
    let mails = r.run_mails().await;
    assert_eq!(mails.len(), 1);
    for id in ids {
        assert!(mails[0].body_text.contains(&format!("{id}@example.org")));
    }
}
