//! The handover of an address (R17–R20): leavers, recycling and new applicants, against a real
//! SQLite file and the embedded CA per test. The R18 walks follow S3 and S7 step by step and ask,
//! at each step, whether the previous holder could still get a certificate.

use backend::certificates::{
    certificates_of_row, current_crl, evidence_of_row, my_certificates, CertificateStatus,
};
use backend::challenges::{confirm_challenge, confirm_challenge_from};
use backend::clock;
use backend::handover::{
    deactivate_rows, edit_row_for_new_person, leaver_worklist, reactivate_and_challenge,
};
use backend::rows::{edit_row, get_row, set_active, AddressState, RowInput, RowView};
use backend::storage::audit::{insert_audit_record, AuditKind, NewAuditRecord};
use backend::ServiceError;
use domain::certificate::{RequestRefusal, RevocationReason};
use domain::handover::{ConfirmingClient, Urgency, LEAVER_DEADLINE_SECS};
use domain::message::Message;

use super::audit_records;
use super::certificates::{cert_world, crl_serials, nap_of, person, user, CertWorld};
use super::challenges::{add_row, mails, token_for};

/// The refusal a request ended with, if it was one of R13's.
fn refusal(result: &Result<impl std::fmt::Debug, ServiceError>) -> Option<RequestRefusal> {
    match result {
        Err(ServiceError::Invalid(Message::Request(r))) => Some(r.clone()),
        _ => None,
    }
}

async fn row_view(c: &CertWorld, row_id: i64) -> RowView {
    get_row(c.pool(), &c.w.nap, row_id).await.unwrap()
}

fn input_of(view: &RowView, first: &str, last: &str) -> RowInput {
    RowInput {
        first_name: first.into(),
        last_name: last.into(),
        aliases: view.aliases.join(" "),
        mailbox_type: view.mailbox_type.as_str().into(),
        applicant: view.applicant.clone().unwrap_or_default(),
        comment: view.comment.clone(),
    }
}

/// The NAP with an email address, so that a copy of a revocation mail can reach them (R19).
fn nap_with_email(c: &CertWorld) -> backend::roles::Viewer {
    let mut nap = nap_of("nora", &c.w.domain);
    nap.user.email = Some("nora@example.org".into());
    nap
}

#[tokio::test]
async fn r18_s3_the_previous_holder_gets_no_certificate_from_the_new_round_on() {
    let c = cert_world().await;
    person(
        c.pool(),
        "anna",
        "Anna",
        "Schmidt",
        Some("anna@idm.example"),
    )
    .await;
    person(c.pool(), "bert", "Bert", "Neumann", None).await;
    let row = c.row("info@example.org", &[]).await;
    c.link(row, &["info@example.org"], "anna").await;
    let old = c
        .request(&user("anna"), row, &["info@example.org"])
        .await
        .unwrap();

    // Deactivate and revoke in one step (R19): anna is refused (inactive row).
    let nap = nap_with_email(&c);
    let version = row_view(&c, row).await.version;
    let done = deactivate_rows(
        &c.portal,
        &nap,
        &[(row, version)],
        Some(RevocationReason::AffiliationChanged),
    )
    .await
    .unwrap();
    assert_eq!(done.revoked, 1);
    let asked = c.request(&user("anna"), row, &["info@example.org"]).await;
    assert_eq!(refusal(&asked), Some(RequestRefusal::RowInactive));

    // Edit the name: still inactive, still refused.
    let view = row_view(&c, row).await;
    edit_row(
        c.pool(),
        &c.w.nap,
        row,
        view.version,
        &input_of(&view, "Bert", "Neumann"),
    )
    .await
    .unwrap();
    let asked = c.request(&user("anna"), row, &["info@example.org"]).await;
    assert_eq!(refusal(&asked), Some(RequestRefusal::RowInactive));

    // Reactivate and send challenges as one step: from this moment anna's link is suspended.
    let view = row_view(&c, row).await;
    let (_, report) = reactivate_and_challenge(&c.portal, &c.w.nap, &[(row, view.version)])
        .await
        .unwrap();
    assert_eq!(report.challenges, 1);
    let asked = c.request(&user("anna"), row, &["info@example.org"]).await;
    assert!(
        matches!(refusal(&asked), Some(RequestRefusal::LinkSuspended { .. })),
        "{asked:?}"
    );
    // R17: the table shows anna as still linked, suspended, beside the pending state.
    let view = row_view(&c, row).await;
    let address = &view.addresses[0];
    assert!(matches!(address.state, AddressState::Pending { .. }));
    let link = address.link.as_ref().expect("anna's link is shown");
    assert_eq!((link.user_id.as_str(), link.suspended), ("anna", true));
    // "My client certificates" says why, and offers nothing to request.
    let mine = my_certificates(&c.portal, &user("anna")).await.unwrap();
    assert!(mine.rows[0]
        .refusal
        .as_ref()
        .unwrap()
        .to_string()
        .contains("new challenge"));

    // A new user confirms: bert is linked, anna is not any more.
    let token = token_for(c.pool(), "info@example.org").await;
    confirm_challenge(c.pool(), &token, "bert", clock::now())
        .await
        .unwrap();
    let asked = c.request(&user("anna"), row, &["info@example.org"]).await;
    assert!(
        matches!(asked, Err(ServiceError::Invalid(Message::NotLinkedToRow))),
        "{asked:?}"
    );
    let new = c
        .request(&user("bert"), row, &["info@example.org"])
        .await
        .unwrap();
    assert_eq!(new.user_id, "bert");

    // R12: anna still sees (only) her old certificate, revoked; bert sees only his.
    let anna = my_certificates(&c.portal, &user("anna")).await.unwrap();
    assert_eq!(anna.certificates.len(), 1);
    assert_eq!(anna.certificates[0].serial, old.serial);
    assert!(matches!(
        anna.certificates[0].status,
        CertificateStatus::Revoked { .. }
    ));
    assert!(anna.rows.is_empty());
    let bert = my_certificates(&c.portal, &user("bert")).await.unwrap();
    assert_eq!(bert.certificates.len(), 1);
    assert_eq!(bert.certificates[0].serial, new.serial);
}

#[tokio::test]
async fn r18_a_plain_send_after_reactivating_suspends_the_link_at_once() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    let row = c.row("anna@example.org", &["a.s@example.org"]).await;
    c.link(row, &["anna@example.org", "a.s@example.org"], "anna")
        .await;

    // R7: links survive deactivation; reactivating alone restores them (S5 needs no challenge).
    let v = row_view(&c, row).await.version;
    set_active(c.pool(), &c.w.nap, &[(row, v)], false)
        .await
        .unwrap();
    let v = row_view(&c, row).await.version;
    set_active(c.pool(), &c.w.nap, &[(row, v)], true)
        .await
        .unwrap();
    let cert = c
        .request(&user("anna"), row, &["anna@example.org"])
        .await
        .unwrap();
    assert_eq!(cert.user_id, "anna");
    backend::certificates::revoke_own_certificate(
        &c.portal,
        &user("anna"),
        cert.id,
        RevocationReason::Superseded,
    )
    .await
    .unwrap();

    // A new round: every address of the row is suspended, even the one not chosen before.
    c.w.send(&[row]).await;
    for chosen in [
        &["anna@example.org"][..],
        &["a.s@example.org"],
        &["anna@example.org", "a.s@example.org"],
    ] {
        let asked = c.request(&user("anna"), row, chosen).await;
        assert!(
            matches!(refusal(&asked), Some(RequestRefusal::LinkSuspended { .. })),
            "{chosen:?}: {asked:?}"
        );
    }

    // The same user confirms one address: that link is restored, the other stays suspended.
    let token = token_for(c.pool(), "anna@example.org").await;
    confirm_challenge(c.pool(), &token, "anna", clock::now())
        .await
        .unwrap();
    let asked = c.request(&user("anna"), row, &["a.s@example.org"]).await;
    assert!(
        matches!(refusal(&asked), Some(RequestRefusal::LinkSuspended { .. })),
        "{asked:?}"
    );
    let cert = c
        .request(&user("anna"), row, &["anna@example.org"])
        .await
        .unwrap();
    assert_eq!(cert.addresses, ["anna@example.org"]);
    let view = row_view(&c, row).await;
    assert!(!view.addresses[0].link.as_ref().unwrap().suspended);
    assert!(view.addresses[1].link.as_ref().unwrap().suspended);
}

#[tokio::test]
async fn r18_s7_the_previous_applicant_gets_no_certificate_at_any_step() {
    let c = cert_world().await;
    person(c.pool(), "otto", "Otto", "Alt", None).await;
    person(c.pool(), "nina", "Nina", "Neu", None).await;
    let row = add_row(
        c.pool(),
        c.w.domain.id,
        "helpdesk@example.org",
        &[],
        Some("otto@uni.example"),
        true,
    )
    .await;
    c.link(row, &["helpdesk@example.org"], "otto").await;
    let old = c
        .request(&user("otto"), row, &["helpdesk@example.org"])
        .await
        .unwrap();
    let otto_refused = |asked: &Result<_, ServiceError>| {
        matches!(
            asked,
            Err(ServiceError::Invalid(Message::NotLinkedToRow))
                | Err(ServiceError::Invalid(Message::Request(
                    RequestRefusal::RowInactive | RequestRefusal::LinkSuspended { .. }
                )))
        )
    };

    // Deactivate (revoking in the same step).
    let v = row_view(&c, row).await.version;
    deactivate_rows(
        &c.portal,
        &c.w.nap,
        &[(row, v)],
        Some(RevocationReason::AffiliationChanged),
    )
    .await
    .unwrap();
    assert!(otto_refused(
        &c.request(&user("otto"), row, &["helpdesk@example.org"])
            .await
    ));

    // Change the applicant: R5 drops the links.
    let view = row_view(&c, row).await;
    let mut input = input_of(&view, "", "Helpdesk");
    input.applicant = "nina@uni.example".into();
    edit_row(c.pool(), &c.w.nap, row, view.version, &input)
        .await
        .unwrap();
    assert!(otto_refused(
        &c.request(&user("otto"), row, &["helpdesk@example.org"])
            .await
    ));
    assert!(row_view(&c, row).await.addresses[0].link.is_none());

    // Reactivate and send: the challenge goes to the new applicant.
    let v = row_view(&c, row).await.version;
    reactivate_and_challenge(&c.portal, &c.w.nap, &[(row, v)])
        .await
        .unwrap();
    assert!(otto_refused(
        &c.request(&user("otto"), row, &["helpdesk@example.org"])
            .await
    ));
    let latest = mails(c.pool())
        .await
        .into_iter()
        .rev()
        .find(|m| m.challenge_id.is_some())
        .unwrap();
    assert_eq!(latest.recipient, "nina@uni.example");

    // The new applicant confirms and requests a certificate without CN.
    let token = token_for(c.pool(), "helpdesk@example.org").await;
    confirm_challenge(c.pool(), &token, "nina", clock::now())
        .await
        .unwrap();
    assert!(otto_refused(
        &c.request(&user("otto"), row, &["helpdesk@example.org"])
            .await
    ));
    let new = c
        .request(&user("nina"), row, &["helpdesk@example.org"])
        .await
        .unwrap();
    assert!(!new.subject.contains("CN="), "{}", new.subject);

    // Otto keeps seeing only the certificate he had.
    let otto = my_certificates(&c.portal, &user("otto")).await.unwrap();
    assert_eq!(
        otto.certificates
            .iter()
            .map(|c| &c.serial)
            .collect::<Vec<_>>(),
        [&old.serial]
    );
}

#[tokio::test]
async fn r18_renaming_a_deactivated_row_for_a_different_person_drops_its_links() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    let row = c.row("anna@example.org", &["a.s@example.org"]).await;
    c.link(row, &["anna@example.org", "a.s@example.org"], "anna")
        .await;
    c.w.send(&[row]).await; // a round under way: its challenges must not survive either

    // Active rows are refused: their links are in use.
    let view = row_view(&c, row).await;
    let active = edit_row_for_new_person(
        &c.portal,
        &c.w.nap,
        row,
        view.version,
        &input_of(&view, "Bert", "Neu"),
    )
    .await;
    assert!(
        matches!(
            active,
            Err(ServiceError::Invalid(Message::TakeOverActiveRow))
        ),
        "{active:?}"
    );

    let v = row_view(&c, row).await.version;
    set_active(c.pool(), &c.w.nap, &[(row, v)], false)
        .await
        .unwrap();
    let view = row_view(&c, row).await;
    let after = edit_row_for_new_person(
        &c.portal,
        &c.w.nap,
        row,
        view.version,
        &input_of(&view, "Bert", "Neu"),
    )
    .await
    .unwrap();
    assert_eq!(
        (after.first_name.as_str(), after.last_name.as_str()),
        ("Bert", "Neu")
    );
    assert!(after.addresses.iter().all(|a| a.link.is_none()));
    assert!(after
        .addresses
        .iter()
        .all(|a| !matches!(a.state, AddressState::Pending { .. })));
    let records = audit_records(c.pool()).await;
    let dropped: Vec<_> = records
        .iter()
        .filter(|r| r.kind == "link_dropped")
        .collect();
    assert_eq!(dropped.len(), 2);
    assert!(dropped
        .iter()
        .all(|r| r.after.as_deref().unwrap().contains("different_person")));

    // Reactivated, nobody can request until a new round is confirmed.
    let v = row_view(&c, row).await.version;
    set_active(c.pool(), &c.w.nap, &[(row, v)], true)
        .await
        .unwrap();
    let asked = c.request(&user("anna"), row, &["anna@example.org"]).await;
    assert!(
        matches!(asked, Err(ServiceError::Invalid(Message::NotLinkedToRow))),
        "{asked:?}"
    );

    // A plain rename (R6) touches no link.
    person(c.pool(), "bert", "Bert", "Neu", None).await;
    c.link(row, &["anna@example.org"], "bert").await;
    let view = row_view(&c, row).await;
    let renamed = edit_row(
        c.pool(),
        &c.w.nap,
        row,
        view.version,
        &input_of(&view, "Bert", "Neumann"),
    )
    .await
    .unwrap();
    assert_eq!(renamed.addresses[0].link.as_ref().unwrap().user_id, "bert");
}

#[tokio::test]
async fn r19_deactivating_revokes_in_the_same_transaction_and_mails_holder_and_nap() {
    let c = cert_world().await;
    person(
        c.pool(),
        "anna",
        "Anna",
        "Schmidt",
        Some("anna.private@idm.example"),
    )
    .await;
    let row = c.row("anna@example.org", &[]).await;
    c.link(row, &["anna@example.org"], "anna").await;
    let cert = c
        .request(&user("anna"), row, &["anna@example.org"])
        .await
        .unwrap();
    // R17: the table shows the valid certificate with its holder and expiry.
    let view = row_view(&c, row).await;
    assert_eq!(view.certificates.len(), 1);
    assert_eq!(view.certificates[0].user_id, "anna");
    assert_eq!(view.certificates[0].not_after, cert.not_after);

    let mails_before = mails(c.pool()).await.len();
    let nap = nap_with_email(&c);
    let done = deactivate_rows(
        &c.portal,
        &nap,
        &[(row, view.version)],
        Some(RevocationReason::KeyCompromise),
    )
    .await
    .unwrap();
    assert_eq!(done.revoked, 1);
    assert!(!done.rows[0].active);
    assert!(done.rows[0].certificates.is_empty());
    let crl = current_crl(&c.portal).await.unwrap();
    assert_eq!(crl_serials(&crl.der), [(cert.serial.clone(), Some(1))]);
    let new_mails: Vec<String> = mails(c.pool())
        .await
        .into_iter()
        .skip(mails_before)
        .map(|m| m.recipient)
        .collect();
    assert_eq!(
        new_mails,
        [
            "anna@example.org",
            "anna.private@idm.example",
            "nora@example.org"
        ]
    );
    let records = audit_records(c.pool()).await;
    let kinds: Vec<&str> = records
        .iter()
        .rev()
        .take(2)
        .map(|r| r.kind.as_str())
        .collect();
    assert_eq!(kinds, ["certificate_revoked", "row_deactivated"]);
    // Nothing is left for the worklist.
    let list = leaver_worklist(&c.portal, &c.w.nap, "example.org", clock::now())
        .await
        .unwrap();
    assert!(list.is_empty());
}

#[tokio::test]
async fn r19_a_refused_deactivation_revokes_nothing() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    let first = c.row("anna@example.org", &[]).await;
    let second = c.row("bert@example.org", &[]).await;
    c.link(first, &["anna@example.org"], "anna").await;
    c.request(&user("anna"), first, &["anna@example.org"])
        .await
        .unwrap();
    let v1 = row_view(&c, first).await.version;
    // The second row at a stale version: the whole step is refused.
    let refused = deactivate_rows(
        &c.portal,
        &c.w.nap,
        &[(first, v1), (second, 99)],
        Some(RevocationReason::AffiliationChanged),
    )
    .await;
    assert!(
        matches!(refused, Err(ServiceError::ChangedMeanwhile(..))),
        "{refused:?}"
    );
    let view = row_view(&c, first).await;
    assert!(view.active);
    assert_eq!(view.certificates.len(), 1);
    // Another domain's NAP cannot deactivate it at all.
    let other = nap_of(
        "otto",
        &backend::storage::domains::DomainRecord {
            id: 999,
            name: "other.org".into(),
            contact_group: "nap-other".into(),
            created_at: 0,
            updated_at: 0,
        },
    );
    assert!(deactivate_rows(
        &c.portal,
        &other,
        &[(first, v1)],
        Some(RevocationReason::AffiliationChanged)
    )
    .await
    .is_err());
    assert!(row_view(&c, first).await.active);
}

#[tokio::test]
async fn r19_worklist_marks_a_row_just_before_and_one_just_past_the_deadline() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    person(c.pool(), "bert", "Bert", "Neu", None).await;
    let late = c.row("anna@example.org", &[]).await;
    let early = c.row("bert@example.org", &[]).await;
    c.link(late, &["anna@example.org"], "anna").await;
    c.link(early, &["bert@example.org"], "bert").await;
    c.request(&user("anna"), late, &["anna@example.org"])
        .await
        .unwrap();
    c.request(&user("bert"), early, &["bert@example.org"])
        .await
        .unwrap();

    // Both deactivated without revoking: both go on the worklist.
    let rows = [
        (late, row_view(&c, late).await.version),
        (early, row_view(&c, early).await.version),
    ];
    let done = deactivate_rows(&c.portal, &c.w.nap, &rows, None)
        .await
        .unwrap();
    assert_eq!(done.revoked, 0);
    // The test sets the clock: `early` was deactivated 3 hours before `late` (a later
    // deactivation record of the same row counts; the trail keeps both).
    let t0 = clock::now();
    let mut conn = c.pool().acquire().await.unwrap();
    for (row, at) in [(late, t0 + 3 * 3600), (early, t0)] {
        insert_audit_record(
            &mut conn,
            &NewAuditRecord {
                actor: "nora",
                kind: AuditKind::RowDeactivated,
                domain_id: Some(c.w.domain.id),
                row_id: Some(row),
                subject: None,
                before: None,
                after: None,
            },
            at,
        )
        .await
        .unwrap();
    }
    drop(conn);

    // One second past early's deadline: early is overdue, late has 3 hours left (urgent).
    let now = t0 + LEAVER_DEADLINE_SECS + 1;
    let list = leaver_worklist(&c.portal, &c.w.nap, "example.org", now)
        .await
        .unwrap();
    let seen: Vec<(&str, Urgency)> = list
        .iter()
        .map(|i| (i.primary.as_str(), i.urgency))
        .collect();
    assert_eq!(
        seen,
        [
            ("bert@example.org", Urgency::Overdue),
            ("anna@example.org", Urgency::Urgent)
        ]
    );
    assert_eq!(list[1].deadline, t0 + 3 * 3600 + LEAVER_DEADLINE_SECS);
    assert_eq!(list[0].certificates[0].user_id, "bert");
    // A day and a half earlier, neither is urgent.
    let list = leaver_worklist(&c.portal, &c.w.nap, "example.org", t0 + 3 * 86_400)
        .await
        .unwrap();
    assert!(list.iter().all(|i| i.urgency == Urgency::Due));
    // Users and other domains' NAPs read no worklist.
    assert!(
        leaver_worklist(&c.portal, &user("anna"), "example.org", now)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn r20_an_issued_certificate_names_the_confirmation_behind_each_address() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    let row = c.row("anna@example.org", &["a.s@example.org"]).await;
    c.w.send(&[row]).await;
    let client = ConfirmingClient::new(
        Some("192.0.2.7".into()),
        Some("Mozilla/5.0 (X11; Linux) Firefox/140.0"),
    );
    for address in ["anna@example.org", "a.s@example.org"] {
        let token = token_for(c.pool(), address).await;
        confirm_challenge_from(c.pool(), &token, "anna", &client, clock::now())
            .await
            .unwrap();
    }
    let cert = c
        .request(&user("anna"), row, &["anna@example.org", "a.s@example.org"])
        .await
        .unwrap();

    let records = audit_records(c.pool()).await;
    let issued = records
        .iter()
        .find(|r| r.kind == "certificate_issued")
        .unwrap();
    let after: serde_json::Value = serde_json::from_str(issued.after.as_deref().unwrap()).unwrap();
    let evidence = after["evidence"].as_array().unwrap();
    assert_eq!(evidence.len(), 2);
    let challenges = super::challenges::challenges(c.pool()).await;
    for e in evidence {
        let address = e["address"].as_str().unwrap();
        let challenge = challenges.iter().find(|ch| ch.address == address).unwrap();
        assert_eq!(e["challenge_id"], challenge.id);
        assert_eq!(e["recipient"], address);
        assert_eq!(e["sent_at"], challenge.created_at);
        assert_eq!(e["confirmed_by"], "anna");
        assert_eq!(e["ip"], "192.0.2.7");
        assert_eq!(e["user_agent"], "Mozilla/5.0 (X11; Linux) Firefox/140.0");
        assert!(e["confirmed_at"].as_i64().unwrap() >= challenge.created_at);
    }

    // The NAP's view of the row shows it; the holder's own list does not need it.
    let of_row = certificates_of_row(&c.portal, &c.w.nap, row).await.unwrap();
    assert_eq!(of_row[0].serial, cert.serial);
    let shown = evidence_of_row(&c.portal, &c.w.nap, row).await.unwrap();
    let shown = &shown[&cert.serial];
    assert_eq!(shown.len(), 2);
    assert!(shown.iter().all(|e| e.ip.as_deref() == Some("192.0.2.7")));
    // Nobody else reads it: the holder is no NAP of the domain.
    assert!(evidence_of_row(&c.portal, &user("anna"), row)
        .await
        .is_err());
}
