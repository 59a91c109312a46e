//! Certificates (R12–R16, Q1, Q6) against a real SQLite file and the embedded CA per test.

use backend::ServiceError;
use domain::message::Message;
use std::io::Write as _;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use backend::ca::{
    CaError, CaFuture, CertificateAuthority, CrlRequest, EmbeddedCa, IssueRequest,
    IssuedCertificate,
};
use backend::certificates::{
    certificate_file, certificates_of_row, current_crl, my_certificates, request_certificate,
    revoke_certificate_as_nap, revoke_for_rows, revoke_own_certificate, run_crl_refresher,
    CertificateFormat, CertificateRequest, CertificateStatus, CertificateView, KeyChoice,
    KeySource,
};
use backend::challenges::confirm_challenge;
use backend::clock;
use backend::domains::register_domain;
use backend::roles::Viewer;
use backend::storage::domains::DomainRecord;
use backend::storage::users::{upsert_user, UserLogin};
use backend::storage::Db;
use backend::Portal;
use domain::certificate::{RequestRefusal, RevocationReason, RevokeRefusal};
use tokio::sync::Notify;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use super::audit_records;
use super::challenges::{add_row, mails, session_user, set_active, token_for, world, World};

const DAY: i64 = 86_400;

/// A CA whose CRL signing can be made to fail, to see that a revocation is then not stored.
#[derive(Debug)]
struct FlakyCa {
    inner: EmbeddedCa,
    fail_crl: AtomicBool,
}

impl CertificateAuthority for FlakyCa {
    fn chain_der(&self) -> Vec<Vec<u8>> {
        self.inner.chain_der()
    }

    fn issue<'a>(&'a self, request: &'a IssueRequest) -> CaFuture<'a, IssuedCertificate> {
        self.inner.issue(request)
    }

    fn sign_crl<'a>(&'a self, request: &'a CrlRequest) -> CaFuture<'a, Vec<u8>> {
        if self.fail_crl.load(Ordering::SeqCst) {
            Box::pin(std::future::ready(Err(CaError::Failed(
                "the signing device is unreachable".into(),
            ))))
        } else {
            self.inner.sign_crl(request)
        }
    }
}

/// `example.org` with its NAP, and the portal with the embedded CA in the test's folder.
pub(super) struct CertWorld {
    pub(super) w: World,
    pub(super) portal: Portal,
    ca: Arc<FlakyCa>,
}

pub(super) async fn cert_world() -> CertWorld {
    let w = world().await;
    let mut config = w.config.clone();
    config.data_dir = w.db.dir.path().to_owned();
    config.database = w.db.database();
    config.ca.validity_days = 90;
    config.ca.renewal_window_days = 14;
    let inner = EmbeddedCa::open(&config.ca, &config.data_dir, config.base_url()).unwrap();
    let ca = Arc::new(FlakyCa {
        inner,
        fail_crl: AtomicBool::new(false),
    });
    let portal = Portal {
        pool: w.db.pool.clone(),
        config: Arc::new(config),
        outbox: Arc::new(Notify::new()),
        outbox_heartbeat: Arc::new(backend::mail::worker::WorkerHeartbeat::new(clock::now())),
        ca: ca.clone(),
        search_matches: w.db.search_matches.clone(),
    };
    CertWorld { w, portal, ca }
}

impl CertWorld {
    pub(super) fn pool(&self) -> &Db {
        &self.w.db.pool
    }

    /// A personal row of example.org.
    pub(super) async fn row(&self, primary: &str, aliases: &[&str]) -> i64 {
        add_row(self.pool(), self.w.domain.id, primary, aliases, None, true).await
    }

    /// Sends a round for the row and lets `user` confirm the given addresses of it (R9–R11).
    pub(super) async fn link(&self, row_id: i64, addresses: &[&str], user: &str) {
        self.w.send(&[row_id]).await;
        for address in addresses {
            let token = token_for(self.pool(), address).await;
            confirm_challenge(self.pool(), &token, user, clock::now())
                .await
                .unwrap();
        }
    }

    pub(super) async fn request(
        &self,
        viewer: &Viewer,
        row_id: i64,
        addresses: &[&str],
    ) -> Result<CertificateView, ServiceError> {
        request_certificate(
            &self.portal,
            viewer,
            CertificateRequest {
                row_id,
                addresses: addresses.iter().map(|a| a.to_string()).collect(),
                key: KeyChoice::Csr(csr_pem()),
            },
        )
        .await
        .map(|issued| issued.certificate)
    }
}

/// A person who has logged in, with what the IdM says about them.
pub(super) async fn person(pool: &Db, id: &str, given: &str, family: &str, email: Option<&str>) {
    let mut conn = pool.acquire().await.unwrap();
    upsert_user(
        &mut conn,
        &UserLogin {
            id,
            source: "oidc",
            given_name: given,
            family_name: family,
            email,
        },
        clock::now(),
    )
    .await
    .unwrap();
}

pub(super) fn user(id: &str) -> Viewer {
    Viewer {
        user: session_user(id, &[]),
        is_operator: false,
        nap_domains: vec![],
    }
}

pub(super) fn nap_of(id: &str, domain: &DomainRecord) -> Viewer {
    Viewer {
        user: session_user(id, &[&domain.contact_group]),
        is_operator: false,
        nap_domains: vec![domain.clone()],
    }
}

fn operator() -> Viewer {
    Viewer {
        user: session_user("olga", &["ra-operators"]),
        is_operator: true,
        nap_domains: vec![],
    }
}

/// A fresh P-256 key's PKCS#10 request, whose subject and SAN claim things the portal must ignore.
fn csr_pem() -> Vec<u8> {
    csr_with_key().0.into_bytes()
}

fn csr_with_key() -> (String, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["evil.example".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Mallory");
    let csr = params.serialize_request(&key).unwrap();
    (csr.pem().unwrap(), key.public_key_raw().to_vec())
}

fn parse_cert(der: &[u8]) -> X509Certificate<'_> {
    let (rest, cert) = X509Certificate::from_der(der).unwrap();
    assert!(rest.is_empty());
    cert
}

fn san_addresses(cert: &X509Certificate<'_>) -> Vec<String> {
    cert.subject_alternative_name()
        .unwrap()
        .expect("a subjectAltName")
        .value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::RFC822Name(a) => a.to_string(),
            other => panic!("not an rfc822Name: {other:?}"),
        })
        .collect()
}

async fn stored_der(pool: &Db, id: i64) -> Vec<u8> {
    backend::run!(pool, ex => sqlx::query_scalar("SELECT der FROM certificates WHERE id = $1")
        .bind(id)
        .fetch_one(ex)
        .await)
    .unwrap()
}

async fn count(pool: &Db, table: &str) -> i64 {
    backend::run!(pool, ex => sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(ex)
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

/// The serials a CRL lists, with their reason codes, as a relying party reads them.
pub(super) fn crl_serials(der: &[u8]) -> Vec<(String, Option<u8>)> {
    let (_, crl) = x509_parser::parse_x509_crl(der).unwrap();
    crl.iter_revoked_certificates()
        .map(|r| {
            (
                r.serial().to_str_radix(16),
                r.reason_code().map(|(_, code)| code.0),
            )
        })
        .collect()
}

fn crl_number(der: &[u8]) -> u64 {
    let (_, crl) = x509_parser::parse_x509_crl(der).unwrap();
    let digits = crl.crl_number().expect("a CRL number").to_u64_digits();
    digits.first().copied().unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// R12: who sees which certificates
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn r12_a_user_sees_only_the_certificates_they_requested_revoked_and_expired_included() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    person(c.pool(), "bert", "Bert", "Meyer", None).await;
    let anna_row = c.row("anna@example.org", &[]).await;
    let bert_row = c.row("bert@example.org", &[]).await;
    c.link(anna_row, &["anna@example.org"], "anna").await;
    c.link(bert_row, &["bert@example.org"], "bert").await;
    let first = c
        .request(&user("anna"), anna_row, &["anna@example.org"])
        .await
        .unwrap();
    revoke_own_certificate(
        &c.portal,
        &user("anna"),
        first.id,
        RevocationReason::Superseded,
    )
    .await
    .unwrap();
    let second = c
        .request(&user("anna"), anna_row, &["anna@example.org"])
        .await
        .unwrap();
    let berts = c
        .request(&user("bert"), bert_row, &["bert@example.org"])
        .await
        .unwrap();
    set_not_after(c.pool(), second.id, clock::now() - 1).await;

    let mine = my_certificates(&c.portal, &user("anna")).await.unwrap();

    let listed: Vec<(i64, &CertificateStatus)> = mine
        .certificates
        .iter()
        .map(|v| (v.id, &v.status))
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0], (second.id, &CertificateStatus::Expired));
    assert_eq!(listed[1].0, first.id);
    assert!(
        matches!(listed[1].1, CertificateStatus::Revoked { reason: RevocationReason::Superseded, by, .. } if by == "anna"),
        "{listed:?}"
    );
    assert!(mine.certificates.iter().all(|v| v.user_id == "anna"));
    assert!(mine.certificates.iter().all(|v| v.id != berts.id));
    assert_eq!(mine.certificates[0].user_name, "Anna Schmidt");
    assert_eq!(mine.certificates[0].domain, "example.org");
    assert_eq!(mine.certificates[0].row_primary, "anna@example.org");
}

#[tokio::test]
async fn r12_after_the_address_moves_the_old_user_keeps_the_old_certificate_and_the_new_user_sees_none(
) {
    // S3: deactivate → revoke → reactivate → send challenges → a new user confirms.
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    person(c.pool(), "carl", "Carl", "Neu", None).await;
    let row = c.row("office@example.org", &[]).await;
    c.link(row, &["office@example.org"], "anna").await;
    let old = c
        .request(&user("anna"), row, &["office@example.org"])
        .await
        .unwrap();
    set_active(c.pool(), row, false).await;
    assert_eq!(
        revoke_for_rows(
            &c.portal,
            &c.w.nap,
            &[row],
            RevocationReason::AffiliationChanged
        )
        .await
        .unwrap(),
        1
    );
    set_active(c.pool(), row, true).await;
    c.link(row, &["office@example.org"], "carl").await;

    let anna = my_certificates(&c.portal, &user("anna")).await.unwrap();
    let carl = my_certificates(&c.portal, &user("carl")).await.unwrap();

    assert_eq!(
        anna.certificates.iter().map(|v| v.id).collect::<Vec<_>>(),
        [old.id]
    );
    assert!(anna.rows.is_empty(), "anna is no longer linked: {anna:?}");
    assert!(carl.certificates.is_empty());
    assert_eq!(carl.rows.len(), 1);
    assert_eq!(carl.rows[0].refusal, None, "{carl:?}");
    let new = c
        .request(&user("carl"), row, &["office@example.org"])
        .await
        .unwrap();
    assert_eq!(new.subject, "CN=Carl Neu,SN=Neu,givenName=Carl");
    let anna = my_certificates(&c.portal, &user("anna")).await.unwrap();
    assert_eq!(
        anna.certificates.len(),
        1,
        "carl's certificate is not anna's"
    );
    // The NAP sees both, newest first.
    let of_row = certificates_of_row(&c.portal, &c.w.nap, row).await.unwrap();
    assert_eq!(
        of_row
            .iter()
            .map(|v| (v.id, v.user_id.as_str()))
            .collect::<Vec<_>>(),
        [(new.id, "carl"), (old.id, "anna")]
    );
}

#[tokio::test]
async fn r12_naps_see_the_certificates_of_their_domains_rows_operators_too_nobody_else() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    let other = register_domain(c.pool(), "cli:root", "other.example", "nap-other")
        .await
        .unwrap();
    let row = c.row("anna@example.org", &[]).await;
    c.link(row, &["anna@example.org"], "anna").await;
    let cert = c
        .request(&user("anna"), row, &["anna@example.org"])
        .await
        .unwrap();

    let by_nap = certificates_of_row(&c.portal, &c.w.nap, row).await.unwrap();
    let by_operator = certificates_of_row(&c.portal, &operator(), row)
        .await
        .unwrap();
    let foreign_nap = certificates_of_row(&c.portal, &nap_of("otto", &other), row)
        .await
        .unwrap_err();
    let owner = certificates_of_row(&c.portal, &user("anna"), row)
        .await
        .unwrap_err();
    let unknown = certificates_of_row(&c.portal, &c.w.nap, row + 100)
        .await
        .unwrap_err();

    assert_eq!(by_nap, vec![cert.clone()]);
    assert_eq!(by_operator, vec![cert]);
    // Q1: another domain's row reads as an unknown row; someone with no table at all is refused
    // whatever the id.
    assert!(foreign_nap.is_not_found(), "{foreign_nap:?}");
    assert_eq!(foreign_nap.to_string(), unknown.to_string());
    assert!(owner.is_forbidden(), "{owner:?}");
    assert!(unknown.is_not_found(), "{unknown:?}");
}

// ---------------------------------------------------------------------------------------------
// R13: what may be requested
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn r13_a_personal_certificate_carries_the_idm_name_the_chosen_addresses_and_the_configured_validity(
) {
    let c = cert_world().await;
    person(c.pool(), "anna", " Anna ", "Schmidt", None).await;
    let row = c
        .row(
            "anna@example.org",
            &["a.schmidt@example.org", "as@example.org"],
        )
        .await;
    c.link(
        row,
        &[
            "anna@example.org",
            "a.schmidt@example.org",
            "as@example.org",
        ],
        "anna",
    )
    .await;
    let mine = my_certificates(&c.portal, &user("anna")).await.unwrap();
    assert_eq!(
        mine.rows[0].linked_addresses,
        [
            "anna@example.org",
            "a.schmidt@example.org",
            "as@example.org"
        ],
        "primary first, then the aliases in order"
    );
    assert!(!mine.rows[0].functional);
    assert_eq!(mine.rows[0].row_name, "Anna Schmidt");

    // Chosen in another order and with a duplicate: the row's order wins, once each.
    let cert = c
        .request(
            &user("anna"),
            row,
            &["as@example.org", "anna@example.org", "AS@example.org"],
        )
        .await
        .unwrap();

    assert_eq!(cert.subject, "CN=Anna Schmidt,SN=Schmidt,givenName=Anna");
    assert_eq!(
        cert.subject, mine.rows[0].subject_preview,
        "the page previews the real subject"
    );
    assert_eq!(cert.addresses, ["anna@example.org", "as@example.org"]);
    assert_eq!(cert.key_source, KeySource::Csr);
    // 90 days counted inclusively (RFC 5280): one second short of 90 × 86 400 s.
    assert_eq!(cert.not_after - cert.not_before, 90 * DAY - 1);
    assert_eq!(cert.status, CertificateStatus::Valid);
    let der = stored_der(c.pool(), cert.id).await;
    let parsed = parse_cert(&der);
    assert_eq!(
        san_addresses(&parsed),
        ["anna@example.org", "as@example.org"]
    );
    assert_eq!(
        parsed
            .tbs_certificate
            .raw_serial_as_string()
            .replace(':', "")
            .trim_start_matches('0'),
        cert.serial
    );
    assert_eq!(
        parsed.validity().not_after.timestamp() - parsed.validity().not_before.timestamp(),
        90 * DAY - 1
    );
}

#[tokio::test]
async fn r13_a_functional_mailbox_certificate_has_no_cn_only_the_address() {
    // S6: the challenge goes to the applicant, who confirms and requests.
    let c = cert_world().await;
    person(c.pool(), "boss", "Berta", "Boss", None).await;
    let row = add_row(
        c.pool(),
        c.w.domain.id,
        "helpdesk@example.org",
        &["support@example.org"],
        Some("boss@elsewhere.net"),
        true,
    )
    .await;
    c.link(
        row,
        &["helpdesk@example.org", "support@example.org"],
        "boss",
    )
    .await;
    let mine = my_certificates(&c.portal, &user("boss")).await.unwrap();
    assert!(mine.rows[0].functional);
    assert_eq!(
        mine.rows[0].subject_preview,
        "emailAddress=helpdesk@example.org"
    );

    let cert = c
        .request(
            &user("boss"),
            row,
            &["helpdesk@example.org", "support@example.org"],
        )
        .await
        .unwrap();

    assert_eq!(cert.subject, "emailAddress=helpdesk@example.org");
    let der = stored_der(c.pool(), cert.id).await;
    let parsed = parse_cert(&der);
    assert_eq!(parsed.subject().iter_common_name().count(), 0);
    assert_eq!(
        san_addresses(&parsed),
        ["helpdesk@example.org", "support@example.org"]
    );
}

#[tokio::test]
async fn r13_only_linked_addresses_of_an_active_row_can_be_requested_and_refusals_name_them() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    person(c.pool(), "bert", "Bert", "Meyer", None).await;
    let row = c
        .row(
            "anna@example.org",
            &["shared@example.org", "spare@example.org"],
        )
        .await;
    c.link(row, &["anna@example.org"], "anna").await;
    let token = token_for(c.pool(), "shared@example.org").await;
    confirm_challenge(c.pool(), &token, "bert", clock::now())
        .await
        .unwrap();
    let stranger_row = c.row("zoe@example.org", &[]).await;
    let anna = user("anna");

    let someone_elses = c
        .request(&anna, row, &["anna@example.org", "shared@example.org"])
        .await
        .unwrap_err();
    let unlinked = c
        .request(&anna, row, &["spare@example.org"])
        .await
        .unwrap_err();
    let foreign_address = c
        .request(&anna, row, &["x@other.example"])
        .await
        .unwrap_err();
    let nothing = c.request(&anna, row, &[]).await.unwrap_err();
    let garbage = c
        .request(&anna, row, &["not an address"])
        .await
        .unwrap_err();
    let not_my_row = c
        .request(&anna, stranger_row, &["zoe@example.org"])
        .await
        .unwrap_err();
    let unknown_row = c
        .request(&anna, row + 1000, &["anna@example.org"])
        .await
        .unwrap_err();
    set_active(c.pool(), row, false).await;
    let inactive = c
        .request(&anna, row, &["anna@example.org"])
        .await
        .unwrap_err();

    assert_eq!(
        someone_elses.to_string(),
        "shared@example.org is not linked to you; confirm a challenge for it first"
    );
    assert_eq!(
        unlinked.to_string(),
        "spare@example.org is not linked to you; confirm a challenge for it first"
    );
    assert!(matches!(
        foreign_address,
        ServiceError::Invalid(Message::Request(RequestRefusal::NotLinked { .. }))
    ));
    assert!(matches!(
        nothing,
        ServiceError::Invalid(Message::Request(RequestRefusal::NoAddressChosen))
    ));
    assert!(
        matches!(garbage, ServiceError::Invalid(Message::Address(_))),
        "{garbage:?}"
    );
    assert_eq!(not_my_row.to_string(), unknown_row.to_string());
    assert!(not_my_row.to_string().contains("linked to you"));
    assert!(
        matches!(
            inactive,
            ServiceError::Invalid(Message::Request(RequestRefusal::RowInactive))
        ),
        "{inactive:?}"
    );
    let mine = my_certificates(&c.portal, &anna).await.unwrap();
    assert!(!mine.rows[0].active);
    assert_eq!(mine.rows[0].linked_addresses, ["anna@example.org"]);
    assert!(mine.rows[0]
        .refusal
        .as_ref()
        .unwrap()
        .to_string()
        .contains("deactivated"));
    for e in [&someone_elses, &unlinked, &inactive, &not_my_row, &garbage] {
        assert!(!e.is_internal() && !e.is_forbidden() && !e.is_not_found());
    }
    assert_eq!(count(c.pool(), "certificates").await, 0);
}

#[tokio::test]
async fn r13_a_personal_certificate_without_a_name_from_the_idm_is_refused_clearly() {
    let c = cert_world().await;
    person(c.pool(), "anon", "", " ", None).await;
    let row = c.row("anon@example.org", &[]).await;
    c.link(row, &["anon@example.org"], "anon").await;

    let e = c
        .request(&user("anon"), row, &["anon@example.org"])
        .await
        .unwrap_err();

    assert!(matches!(
        e,
        ServiceError::Invalid(Message::Request(RequestRefusal::NoName))
    ));
    assert!(
        e.to_string()
            .starts_with("your identity provider gives no name"),
        "{e}"
    );
    let mine = my_certificates(&c.portal, &user("anon")).await.unwrap();
    assert_eq!(
        mine.rows[0].refusal.as_ref().map(ToString::to_string),
        Some(e.to_string())
    );
    assert_eq!(mine.rows[0].subject_preview, "");
    assert_eq!(count(c.pool(), "certificates").await, 0);
}

#[tokio::test]
async fn r13_one_valid_certificate_per_row_until_revoked_expired_or_in_the_renewal_window() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    let row = c.row("anna@example.org", &[]).await;
    c.link(row, &["anna@example.org"], "anna").await;
    let anna = user("anna");
    let first = c.request(&anna, row, &["anna@example.org"]).await.unwrap();

    let again = c
        .request(&anna, row, &["anna@example.org"])
        .await
        .unwrap_err();
    assert!(
        matches!(
            again,
            ServiceError::Invalid(Message::Request(RequestRefusal::StillValid { not_after, .. })) if not_after == first.not_after
        ),
        "{again:?}"
    );
    let mine = my_certificates(&c.portal, &anna).await.unwrap();
    assert_eq!(
        mine.rows[0].refusal.as_ref().map(ToString::to_string),
        Some(again.to_string())
    );

    // Within the renewal window (14 days here): a new one may be requested.
    set_not_after(c.pool(), first.id, clock::now() + 10 * DAY).await;
    let renewed = c.request(&anna, row, &["anna@example.org"]).await.unwrap();
    // Revoked: a new one may be requested at once.
    revoke_own_certificate(
        &c.portal,
        &anna,
        renewed.id,
        RevocationReason::KeyCompromise,
    )
    .await
    .unwrap();
    let after_revocation = c.request(&anna, row, &["anna@example.org"]).await.unwrap();
    // Expired: likewise.
    set_not_after(c.pool(), after_revocation.id, clock::now() - 1).await;
    c.request(&anna, row, &["anna@example.org"]).await.unwrap();

    assert_eq!(count(c.pool(), "certificates").await, 4);
}

#[tokio::test]
async fn r13_a_concurrent_double_submit_yields_one_certificate() {
    let c = Arc::new(cert_world().await);
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    let row = c.row("anna@example.org", &[]).await;
    c.link(row, &["anna@example.org"], "anna").await;

    let mut tasks = Vec::new();
    for _ in 0..8 {
        let c = Arc::clone(&c);
        tasks.push(tokio::spawn(async move {
            c.request(&user("anna"), row, &["anna@example.org"]).await
        }));
    }
    let mut issued = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => issued += 1,
            Err(ServiceError::Invalid(Message::Request(RequestRefusal::StillValid { .. }))) => {}
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }

    assert_eq!(issued, 1);
    assert_eq!(count(c.pool(), "certificates").await, 1);
    let kinds: Vec<String> = audit_records(c.pool())
        .await
        .into_iter()
        .filter(|r| r.kind == "certificate_issued")
        .map(|r| r.kind)
        .collect();
    assert_eq!(kinds.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// R14: where the key comes from
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn r14_from_a_csr_only_its_public_key_is_used() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    let row = c.row("anna@example.org", &[]).await;
    c.link(row, &["anna@example.org"], "anna").await;
    let (csr, public_key) = csr_with_key();

    let issued = request_certificate(
        &c.portal,
        &user("anna"),
        CertificateRequest {
            row_id: row,
            addresses: vec!["anna@example.org".into()],
            key: KeyChoice::Csr(csr.into_bytes()),
        },
    )
    .await
    .unwrap();

    assert_eq!(issued.pkcs12, None);
    let der = stored_der(c.pool(), issued.certificate.id).await;
    let cert = parse_cert(&der);
    assert_eq!(
        cert.public_key().subject_public_key.data.as_ref(),
        public_key
    );
    assert!(
        !cert.subject().to_string().contains("Mallory"),
        "the CSR's subject is ignored"
    );
    assert_eq!(
        san_addresses(&cert),
        ["anna@example.org"],
        "and its SAN too"
    );

    let bad = request_certificate(
        &c.portal,
        &user("anna"),
        CertificateRequest {
            row_id: row,
            addresses: vec!["anna@example.org".into()],
            key: KeyChoice::Csr(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n".to_vec()),
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(bad, ServiceError::Invalid(Message::Csr(_))),
        "{bad:?}"
    );
}

/// The private key inside a PKCS#12 file, DER (PKCS#8), as OpenSSL reads it.
fn key_in_pkcs12(p12: &[u8], password: &str, dir: &std::path::Path) -> Vec<u8> {
    let path = dir.join("issued.p12");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(p12)
        .unwrap();
    let pem = Command::new("openssl")
        .args([
            "pkcs12",
            "-nocerts",
            "-nodes",
            "-passin",
            "env:P12_PASSWORD",
            "-in",
        ])
        .arg(&path)
        .env("P12_PASSWORD", password)
        .output()
        .unwrap();
    assert!(
        pem.status.success(),
        "{}",
        String::from_utf8_lossy(&pem.stderr)
    );
    let mut der = Command::new("openssl")
        .args(["pkey", "-outform", "DER"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    der.stdin.take().unwrap().write_all(&pem.stdout).unwrap();
    let out = der.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}

#[tokio::test]
async fn r14_a_server_made_key_is_handed_over_once_as_pkcs12_and_never_stored() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    let row = c.row("anna@example.org", &[]).await;
    c.link(row, &["anna@example.org"], "anna").await;
    let password = "correct horse battery";

    let short = request_certificate(
        &c.portal,
        &user("anna"),
        CertificateRequest {
            row_id: row,
            addresses: vec!["anna@example.org".into()],
            key: KeyChoice::ServerKey {
                password: "kurz-1234".to_owned().into(),
            },
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            short,
            ServiceError::Invalid(Message::PasswordTooShort { min: 10 })
        ),
        "{short:?}"
    );
    assert!(!short.to_string().contains("kurz-1234"));
    assert_eq!(count(c.pool(), "certificates").await, 0);

    let issued = request_certificate(
        &c.portal,
        &user("anna"),
        CertificateRequest {
            row_id: row,
            addresses: vec!["anna@example.org".into()],
            key: KeyChoice::ServerKey {
                password: password.to_owned().into(),
            },
        },
    )
    .await
    .unwrap();

    assert_eq!(issued.certificate.key_source, KeySource::Server);
    let p12 = issued.pkcs12.clone().expect("the PKCS#12 file");
    assert!(!format!("{issued:?}").contains(&format!("{:?}", &p12[..16])));
    let key = key_in_pkcs12(&p12, password, c.w.db.dir.path());
    assert!(key.len() > 1000, "an RSA private key");
    // The key must not be anywhere in the database: not in a table, not in the file or its WAL.
    if !backend::testing::on_postgres() {
        backend::run!(c.pool(), ex => sqlx::query("PRAGMA wal_checkpoint(FULL)")
            .execute(ex)
            .await.map(backend::storage::engine::Done::from))
        .unwrap();
    }
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(c.w.db.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("portal.sqlite3")
        {
            stored.extend(std::fs::read(path).unwrap());
        }
    }
    // Any 32 bytes of the key's private part would do; the tail of the DER is all private.
    let tail = &key[key.len() - 32..];
    assert!(
        !stored.windows(tail.len()).any(|w| w == tail),
        "private key material in the database"
    );
    assert!(!stored.windows(p12.len().min(64)).any(|w| w == &p12[..64]));
    assert!(!String::from_utf8_lossy(&stored).contains(password));
    let der = stored_der(c.pool(), issued.certificate.id).await;
    let cert = parse_cert(&der);
    assert_eq!(
        cert.public_key().algorithm.algorithm.to_id_string(),
        "1.2.840.113549.1.1.1"
    );
    // The same request again is refused: one valid certificate per row (R13).
    let again = request_certificate(
        &c.portal,
        &user("anna"),
        CertificateRequest {
            row_id: row,
            addresses: vec!["anna@example.org".into()],
            key: KeyChoice::ServerKey {
                password: password.to_owned().into(),
            },
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(again, ServiceError::Invalid(Message::Request(_))));
    for r in audit_records(c.pool()).await {
        let text = format!("{:?} {:?}", r.before, r.after);
        assert!(
            !text.contains(password) && !text.contains("PRIVATE"),
            "{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// R15: revocation and the CRL
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn r15_the_owner_revokes_any_time_the_crl_is_resigned_and_the_owner_is_told_twice() {
    let c = cert_world().await;
    person(
        c.pool(),
        "anna",
        "Anna",
        "Schmidt",
        Some("anna.private@elsewhere.example"),
    )
    .await;
    let row = c.row("anna@example.org", &["as@example.org"]).await;
    c.link(row, &["anna@example.org", "as@example.org"], "anna")
        .await;
    let cert = c
        .request(&user("anna"), row, &["anna@example.org", "as@example.org"])
        .await
        .unwrap();
    let before = current_crl(&c.portal).await.unwrap();
    let mails_before = mails(c.pool()).await.len();

    let revoked = revoke_own_certificate(
        &c.portal,
        &user("anna"),
        cert.id,
        RevocationReason::KeyCompromise,
    )
    .await
    .unwrap();

    assert!(
        matches!(&revoked.status, CertificateStatus::Revoked { reason: RevocationReason::KeyCompromise, by, .. } if by == "anna")
    );
    let crl = current_crl(&c.portal).await.unwrap();
    assert_eq!(crl.number, before.number + 1);
    assert_eq!(crl_number(&crl.der), crl.number);
    assert_eq!(crl.next_update - crl.this_update, 7 * DAY);
    assert_eq!(crl_serials(&crl.der), [(cert.serial.clone(), Some(1))]);
    let new_mails: Vec<_> = mails(c.pool())
        .await
        .into_iter()
        .skip(mails_before)
        .collect();
    let recipients: Vec<&str> = new_mails.iter().map(|m| m.recipient.as_str()).collect();
    assert_eq!(
        recipients,
        ["anna@example.org", "anna.private@elsewhere.example"]
    );
    let text = new_mails[0].body_text.as_deref().unwrap();
    let de = text.find("wurde am").unwrap();
    let en = text.find("was revoked on").unwrap();
    assert!(de < en, "German first");
    assert!(text.contains(&format!("Seriennummer: {}", cert.serial)));
    assert!(text.contains("anna@example.org, as@example.org"));
    assert!(text.contains("von Ihnen selbst") && text.contains("by yourself"));
    assert!(text.contains("Reason: key compromise"));
    assert_ne!(new_mails[0].message_id, new_mails[1].message_id);
    let audit = audit_records(c.pool())
        .await
        .into_iter()
        .find(|r| r.kind == "certificate_revoked")
        .unwrap();
    assert_eq!(audit.subject.as_deref(), Some(cert.serial.as_str()));
    assert_eq!(audit.domain_id, Some(c.w.domain.id));
    assert_eq!(audit.row_id, Some(row));
    assert_eq!(audit.actor, "anna");
    assert!(audit.after.unwrap().contains("keyCompromise"));
}

#[tokio::test]
async fn r15_a_nap_revokes_only_certificates_of_inactive_rows_of_their_domains() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    let other = register_domain(c.pool(), "cli:root", "other.example", "nap-other")
        .await
        .unwrap();
    let row = c.row("anna@example.org", &[]).await;
    c.link(row, &["anna@example.org"], "anna").await;
    let cert = c
        .request(&user("anna"), row, &["anna@example.org"])
        .await
        .unwrap();

    let active = revoke_certificate_as_nap(
        &c.portal,
        &c.w.nap,
        cert.id,
        RevocationReason::AffiliationChanged,
    )
    .await
    .unwrap_err();
    set_active(c.pool(), row, false).await;
    let foreign = revoke_certificate_as_nap(
        &c.portal,
        &nap_of("otto", &other),
        cert.id,
        RevocationReason::AffiliationChanged,
    )
    .await
    .unwrap_err();
    let done = revoke_certificate_as_nap(
        &c.portal,
        &c.w.nap,
        cert.id,
        RevocationReason::AffiliationChanged,
    )
    .await
    .unwrap();

    assert!(
        matches!(
            active,
            ServiceError::Invalid(Message::Revoke(RevokeRefusal::RowActive))
        ),
        "{active:?}"
    );
    assert!(foreign.is_not_found(), "{foreign:?}");
    assert!(
        matches!(&done.status, CertificateStatus::Revoked { by, .. } if by == "nora"),
        "{done:?}"
    );
    let mail = mails(c.pool()).await.pop().unwrap();
    assert_eq!(mail.recipient, "anna@example.org");
    let text = mail.body_text.unwrap();
    assert!(text.contains("von der Kontaktperson (NAP) Ihrer E-Mail-Domain"));
    assert!(text.contains("by the contact person (NAP) of your email domain"));
    // S2: the user can request no more while the row is inactive.
    let e = c
        .request(&user("anna"), row, &["anna@example.org"])
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        ServiceError::Invalid(Message::Request(RequestRefusal::RowInactive))
    ));
}

#[tokio::test]
async fn r15_revoking_the_certificates_of_rows_is_all_or_nothing_and_names_the_row_that_refuses() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    person(c.pool(), "bert", "Bert", "Meyer", None).await;
    let other = register_domain(c.pool(), "cli:root", "other.example", "nap-other")
        .await
        .unwrap();
    let foreign_row = add_row(c.pool(), other.id, "x@other.example", &[], None, false).await;
    let anna_row = c.row("anna@example.org", &[]).await;
    let bert_row = c.row("bert@example.org", &["b@example.org"]).await;
    let active_row = c.row("carl@example.org", &[]).await;
    c.link(anna_row, &["anna@example.org"], "anna").await;
    c.link(bert_row, &["bert@example.org", "b@example.org"], "bert")
        .await;
    c.request(&user("anna"), anna_row, &["anna@example.org"])
        .await
        .unwrap();
    let old_bert = c
        .request(&user("bert"), bert_row, &["bert@example.org"])
        .await
        .unwrap();
    revoke_own_certificate(
        &c.portal,
        &user("bert"),
        old_bert.id,
        RevocationReason::Superseded,
    )
    .await
    .unwrap();
    c.request(
        &user("bert"),
        bert_row,
        &["bert@example.org", "b@example.org"],
    )
    .await
    .unwrap();
    set_active(c.pool(), anna_row, false).await;
    set_active(c.pool(), bert_row, false).await;
    let crl_before = current_crl(&c.portal).await.unwrap();
    let reason = RevocationReason::CessationOfOperation;

    let with_active = revoke_for_rows(
        &c.portal,
        &c.w.nap,
        &[anna_row, active_row, bert_row],
        reason,
    )
    .await
    .unwrap_err();
    let with_foreign = revoke_for_rows(&c.portal, &c.w.nap, &[anna_row, foreign_row], reason)
        .await
        .unwrap_err();
    let by_user = revoke_for_rows(&c.portal, &user("anna"), &[anna_row], reason)
        .await
        .unwrap_err();
    assert_eq!(
        count(c.pool(), "revocations").await,
        1,
        "nothing revoked yet"
    );
    assert_eq!(
        current_crl(&c.portal).await.unwrap().number,
        crl_before.number
    );

    let revoked = revoke_for_rows(&c.portal, &c.w.nap, &[anna_row, bert_row, anna_row], reason)
        .await
        .unwrap();
    let again = revoke_for_rows(&c.portal, &c.w.nap, &[anna_row, bert_row], reason)
        .await
        .unwrap();

    assert!(
        with_active
            .to_string()
            .starts_with("carl@example.org is still active"),
        "{with_active}"
    );
    assert_eq!(
        with_foreign.to_string(),
        format!("there is no row #{foreign_row} in a domain you administer; nothing was revoked")
    );
    assert!(by_user.is_forbidden());
    assert_eq!(
        revoked, 2,
        "the valid ones; the revoked one is left as it was"
    );
    assert_eq!(again, 0);
    let crl = current_crl(&c.portal).await.unwrap();
    assert_eq!(crl.number, crl_before.number + 1, "one CRL for the batch");
    assert_eq!(crl_serials(&crl.der).len(), 3);
    let revoked_audit = audit_records(c.pool())
        .await
        .into_iter()
        .filter(|r| r.kind == "certificate_revoked")
        .count();
    assert_eq!(revoked_audit, 3);
}

#[tokio::test]
async fn r15_revoked_or_expired_certificates_cannot_be_revoked_again() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    let row = c.row("anna@example.org", &[]).await;
    c.link(row, &["anna@example.org"], "anna").await;
    let anna = user("anna");
    let first = c.request(&anna, row, &["anna@example.org"]).await.unwrap();
    revoke_own_certificate(&c.portal, &anna, first.id, RevocationReason::Superseded)
        .await
        .unwrap();
    let second = c.request(&anna, row, &["anna@example.org"]).await.unwrap();
    set_not_after(c.pool(), second.id, clock::now() - 1).await;
    set_active(c.pool(), row, false).await;

    let twice = revoke_own_certificate(&c.portal, &anna, first.id, RevocationReason::KeyCompromise)
        .await
        .unwrap_err();
    let by_nap = revoke_certificate_as_nap(
        &c.portal,
        &c.w.nap,
        first.id,
        RevocationReason::KeyCompromise,
    )
    .await
    .unwrap_err();
    let expired =
        revoke_own_certificate(&c.portal, &anna, second.id, RevocationReason::KeyCompromise)
            .await
            .unwrap_err();

    assert!(matches!(
        twice,
        ServiceError::Invalid(Message::Revoke(RevokeRefusal::AlreadyRevoked))
    ));
    assert!(matches!(
        by_nap,
        ServiceError::Invalid(Message::Revoke(RevokeRefusal::AlreadyRevoked))
    ));
    assert!(matches!(
        expired,
        ServiceError::Invalid(Message::Revoke(RevokeRefusal::Expired))
    ));
    let reason: Option<String> =
        backend::run!(c.pool(), ex => sqlx::query_scalar("SELECT reason FROM revocations WHERE certificate_id = $1")
            .bind(first.id)
            .fetch_one(ex)
            .await)
            .unwrap();
    assert_eq!(
        reason.as_deref(),
        Some("superseded"),
        "the first reason stays"
    );
}

#[tokio::test]
async fn r15_unspecified_is_stored_as_null_and_left_out_of_the_crl() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    let row = c.row("anna@example.org", &[]).await;
    c.link(row, &["anna@example.org"], "anna").await;
    let cert = c
        .request(&user("anna"), row, &["anna@example.org"])
        .await
        .unwrap();

    let revoked = revoke_own_certificate(
        &c.portal,
        &user("anna"),
        cert.id,
        RevocationReason::Unspecified,
    )
    .await
    .unwrap();

    let reason: Option<String> =
        backend::run!(c.pool(), ex => sqlx::query_scalar("SELECT reason FROM revocations WHERE certificate_id = $1")
            .bind(cert.id)
            .fetch_one(ex)
            .await)
            .unwrap();
    assert_eq!(reason, None);
    assert!(matches!(
        revoked.status,
        CertificateStatus::Revoked {
            reason: RevocationReason::Unspecified,
            ..
        }
    ));
    let crl = current_crl(&c.portal).await.unwrap();
    assert_eq!(crl_serials(&crl.der), [(cert.serial, None)]);
    let text = mails(c.pool()).await.pop().unwrap().body_text.unwrap();
    assert!(text.contains("Grund: ohne Angabe") && text.contains("Reason: no reason given"));
}

#[tokio::test]
async fn r15_a_failed_crl_signing_rolls_the_revocation_back() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    let row = c.row("anna@example.org", &[]).await;
    c.link(row, &["anna@example.org"], "anna").await;
    let cert = c
        .request(&user("anna"), row, &["anna@example.org"])
        .await
        .unwrap();
    let mails_before = mails(c.pool()).await.len();
    let audit_before = audit_records(c.pool()).await.len();
    c.ca.fail_crl.store(true, Ordering::SeqCst);

    let e = revoke_own_certificate(
        &c.portal,
        &user("anna"),
        cert.id,
        RevocationReason::KeyCompromise,
    )
    .await
    .unwrap_err();

    assert!(matches!(e, ServiceError::Internal(_)), "{e:?}");
    assert!(e.is_internal());
    assert!(
        !e.to_string().contains("signing device"),
        "details stay in the log: {e}"
    );
    assert_eq!(count(c.pool(), "revocations").await, 0);
    assert_eq!(count(c.pool(), "crl").await, 0);
    assert_eq!(mails(c.pool()).await.len(), mails_before);
    assert_eq!(audit_records(c.pool()).await.len(), audit_before);
    c.ca.fail_crl.store(false, Ordering::SeqCst);
    revoke_own_certificate(
        &c.portal,
        &user("anna"),
        cert.id,
        RevocationReason::KeyCompromise,
    )
    .await
    .unwrap();
    assert_eq!(count(c.pool(), "revocations").await, 1);
}

#[tokio::test]
async fn r15_the_crl_lists_every_revoked_certificate_until_it_expires() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    let rows = [
        c.row("a1@example.org", &[]).await,
        c.row("a2@example.org", &[]).await,
        c.row("a3@example.org", &[]).await,
    ];
    let mut certs = Vec::new();
    for (row, address) in rows
        .iter()
        .zip(["a1@example.org", "a2@example.org", "a3@example.org"])
    {
        c.link(*row, &[address], "anna").await;
        certs.push(c.request(&user("anna"), *row, &[address]).await.unwrap());
    }
    revoke_own_certificate(
        &c.portal,
        &user("anna"),
        certs[0].id,
        RevocationReason::KeyCompromise,
    )
    .await
    .unwrap();
    revoke_own_certificate(
        &c.portal,
        &user("anna"),
        certs[1].id,
        RevocationReason::PrivilegeWithdrawn,
    )
    .await
    .unwrap();
    let crl = current_crl(&c.portal).await.unwrap();
    let mut listed = crl_serials(&crl.der);
    listed.sort();
    let mut expected = vec![
        (certs[0].serial.clone(), Some(1)),
        (certs[1].serial.clone(), Some(9)),
    ];
    expected.sort();
    assert_eq!(listed, expected, "the valid one is not listed");

    // An expired revoked certificate drops off at the next signing.
    set_not_after(c.pool(), certs[0].id, clock::now() - 1).await;
    revoke_own_certificate(
        &c.portal,
        &user("anna"),
        certs[2].id,
        RevocationReason::Superseded,
    )
    .await
    .unwrap();
    let crl = current_crl(&c.portal).await.unwrap();
    let mut listed = crl_serials(&crl.der);
    listed.sort();
    let mut expected = vec![
        (certs[1].serial.clone(), Some(9)),
        (certs[2].serial.clone(), Some(4)),
    ];
    expected.sort();
    assert_eq!(listed, expected);
    // The stored CRL verifies against the CA certificate as OpenSSL sees it.
    let dir = c.w.db.dir.path();
    std::fs::write(
        dir.join("ca.der"),
        backend::certificates::ca_certificate_der(&c.portal),
    )
    .unwrap();
    std::fs::write(dir.join("crl.der"), &crl.der).unwrap();
    let out = Command::new("openssl")
        .args(["x509", "-inform", "DER", "-in"])
        .arg(dir.join("ca.der"))
        .arg("-out")
        .arg(dir.join("ca.pem"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = Command::new("openssl")
        .args(["crl", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(dir.join("crl.der"))
        .arg("-CAfile")
        .arg(dir.join("ca.pem"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("verify OK"), "{stderr}");
}

#[tokio::test]
async fn r15_the_first_crl_is_signed_on_demand_and_resigned_when_a_day_old() {
    let c = cert_world().await;

    let first = current_crl(&c.portal).await.unwrap();
    let same = current_crl(&c.portal).await.unwrap();
    backend::run!(c.pool(), ex => sqlx::query("UPDATE crl SET this_update = this_update - 86400")
        .execute(ex)
        .await.map(backend::storage::engine::Done::from))
    .unwrap();
    let fresh = current_crl(&c.portal).await.unwrap();

    assert_eq!(first.number, 1);
    assert!(crl_serials(&first.der).is_empty());
    assert_eq!(same, first, "not due: the stored one");
    assert_eq!(fresh.number, 2);
    assert_eq!(crl_number(&fresh.der), 2);
    assert!(fresh.this_update >= first.this_update);
    assert_eq!(fresh.next_update - fresh.this_update, 7 * DAY);
}

#[tokio::test]
async fn r15_the_crl_refresher_signs_at_start_and_stops_on_shutdown() {
    let c = cert_world().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let refresher = tokio::spawn(run_crl_refresher(c.portal.clone(), async move {
        let _ = stopped.await;
    }));

    let mut signed = false;
    for _ in 0..100 {
        if count(c.pool(), "crl").await == 1 {
            signed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.send(()).unwrap();

    assert!(signed, "a CRL at start");
    tokio::time::timeout(std::time::Duration::from_secs(5), refresher)
        .await
        .expect("stops on shutdown")
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Q1: every function checks who asks; downloads
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn q1_certificates_of_others_read_as_not_found() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    person(c.pool(), "bert", "Bert", "Meyer", None).await;
    let other = register_domain(c.pool(), "cli:root", "other.example", "nap-other")
        .await
        .unwrap();
    let row = c.row("anna@example.org", &[]).await;
    c.link(row, &["anna@example.org"], "anna").await;
    let cert = c
        .request(&user("anna"), row, &["anna@example.org"])
        .await
        .unwrap();
    set_active(c.pool(), row, false).await;
    let bert = user("bert");
    let otto = nap_of("otto", &other);
    let reason = RevocationReason::KeyCompromise;

    let errors = [
        revoke_own_certificate(&c.portal, &bert, cert.id, reason)
            .await
            .unwrap_err(),
        revoke_own_certificate(&c.portal, &c.w.nap, cert.id, reason)
            .await
            .unwrap_err(),
        revoke_certificate_as_nap(&c.portal, &otto, cert.id, reason)
            .await
            .unwrap_err(),
        revoke_certificate_as_nap(&c.portal, &user("anna"), cert.id, reason)
            .await
            .unwrap_err(),
        revoke_certificate_as_nap(&c.portal, &operator(), cert.id, reason)
            .await
            .unwrap_err(),
        certificate_file(&c.portal, &bert, cert.id, CertificateFormat::Pem)
            .await
            .unwrap_err(),
        certificate_file(&c.portal, &otto, cert.id, CertificateFormat::Der)
            .await
            .unwrap_err(),
        revoke_own_certificate(&c.portal, &user("anna"), cert.id + 1000, reason)
            .await
            .unwrap_err(),
    ];

    for e in &errors {
        assert!(e.is_not_found(), "{e:?}");
        assert_eq!(e.to_string(), "no such certificate");
    }
    assert_eq!(count(c.pool(), "revocations").await, 0);
    let bert_sees = my_certificates(&c.portal, &bert).await.unwrap();
    assert!(bert_sees.certificates.is_empty() && bert_sees.rows.is_empty());
    for viewer in [user("anna"), c.w.nap.clone(), operator()] {
        certificate_file(&c.portal, &viewer, cert.id, CertificateFormat::Pem)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn certificate_downloads_as_pem_der_and_pem_with_the_chain() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    let row = c.row("anna@example.org", &[]).await;
    c.link(row, &["anna@example.org"], "anna").await;
    let cert = c
        .request(&user("anna"), row, &["anna@example.org"])
        .await
        .unwrap();
    let der = stored_der(c.pool(), cert.id).await;

    let pem = certificate_file(&c.portal, &user("anna"), cert.id, CertificateFormat::Pem)
        .await
        .unwrap();
    let raw = certificate_file(&c.portal, &user("anna"), cert.id, CertificateFormat::Der)
        .await
        .unwrap();
    let chain = certificate_file(
        &c.portal,
        &user("anna"),
        cert.id,
        CertificateFormat::ChainPem,
    )
    .await
    .unwrap();

    assert_eq!(raw.bytes, der);
    assert_eq!(raw.content_type, "application/pkix-cert");
    assert_eq!(raw.file_name, format!("certificate-{}.cer", cert.serial));
    assert_eq!(pem.content_type, "application/x-pem-file");
    let blocks: Vec<_> = x509_parser::pem::Pem::iter_from_buffer(&pem.bytes)
        .map(|p| p.unwrap().contents)
        .collect();
    assert_eq!(blocks, std::slice::from_ref(&der));
    let blocks: Vec<_> = x509_parser::pem::Pem::iter_from_buffer(&chain.bytes)
        .map(|p| p.unwrap().contents)
        .collect();
    assert_eq!(blocks[0], der);
    assert_eq!(
        blocks[1],
        backend::certificates::ca_certificate_der(&c.portal)
    );
    assert!(chain.file_name.ends_with("-chain.pem"));
}

#[tokio::test]
async fn r16_issuing_and_revoking_are_audited_without_key_material() {
    let c = cert_world().await;
    person(c.pool(), "anna", "Anna", "Schmidt", None).await;
    let row = c.row("anna@example.org", &[]).await;
    c.link(row, &["anna@example.org"], "anna").await;
    let cert = c
        .request(&user("anna"), row, &["anna@example.org"])
        .await
        .unwrap();
    set_active(c.pool(), row, false).await;
    revoke_certificate_as_nap(
        &c.portal,
        &c.w.nap,
        cert.id,
        RevocationReason::PrivilegeWithdrawn,
    )
    .await
    .unwrap();

    let records: Vec<_> = audit_records(c.pool())
        .await
        .into_iter()
        .filter(|r| r.kind.starts_with("certificate_"))
        .collect();

    assert_eq!(records.len(), 2);
    let issued = &records[0];
    assert_eq!(issued.kind, "certificate_issued");
    assert_eq!(issued.actor, "anna");
    assert_eq!(issued.domain_id, Some(c.w.domain.id));
    assert_eq!(issued.row_id, Some(row));
    assert_eq!(issued.subject.as_deref(), Some(cert.serial.as_str()));
    assert_eq!(issued.before, None);
    let after: serde_json::Value = serde_json::from_str(issued.after.as_deref().unwrap()).unwrap();
    assert_eq!(after["addresses"], serde_json::json!(["anna@example.org"]));
    assert_eq!(after["key_source"], "csr");
    assert_eq!(
        after["subject"],
        "CN=Anna Schmidt,SN=Schmidt,givenName=Anna"
    );
    let revoked = &records[1];
    assert_eq!(revoked.kind, "certificate_revoked");
    assert_eq!(revoked.actor, "nora");
    assert_eq!(revoked.subject.as_deref(), Some(cert.serial.as_str()));
    let before: serde_json::Value =
        serde_json::from_str(revoked.before.as_deref().unwrap()).unwrap();
    let after: serde_json::Value = serde_json::from_str(revoked.after.as_deref().unwrap()).unwrap();
    assert_eq!(before["state"], "valid");
    assert_eq!(after["state"], "revoked");
    assert_eq!(after["reason"], "privilegeWithdrawn");
    assert_eq!(after["as"], "nap");
    for r in &records {
        let text = format!("{:?} {:?}", r.before, r.after);
        assert!(
            !text.contains("PRIVATE") && !text.contains("BEGIN"),
            "{text}"
        );
    }
}
