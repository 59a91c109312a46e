//! R22, the IdM's bar: while the IdM says a person is inactive or has deleted them, no session
//! starts for them (OIDC or local account, the refusal recorded), and a session that outlived the
//! deactivation can neither request a certificate nor confirm a challenge. When the IdM
//! re-activates the person, they may again (S5: their rows stay as they are). Against a real
//! SQLite file, the embedded CA and the SCIM use cases the endpoint calls.

use std::net::IpAddr;

use backend::accounts::{create_account, NewAccount};
use backend::certificates::{request_certificate, CertificateRequest, KeyChoice};
use backend::challenges::confirm_challenge;
use backend::clock;
use backend::config::{Config, UserIdAttribute};
use backend::deprovisioning::set_deprovision_mode;
use backend::error::ServiceError;
use backend::identity::IdentitySource;
use backend::idm_bar::{is_barred, IdmInactive};
use backend::scim::tokens::ScimClient;
use backend::scim::users::{create_user, delete_user, patch_user, replace_user, ScimUser};
use backend::secret::SecretString;
use backend::sessions::start_session;
use backend::sign_in::{sign_in_with_password, SignInConfig, SignInGuard, SignInRefused};
use backend::storage::sign_in_events::list_sign_in_events;
use backend::storage::Db;
use backend::Portal;
use domain::deprovisioning::DeprovisionMode;
use domain::message::Message;
use serde_json::{json, Value};

use super::certificates::{nap_of, user};
use super::challenges::{add_row, token_for, world, World};
use super::identity;

const PASSWORD: &str = "anna's long password";

/// `example.org` with its NAP, and a portal opened on the test's database as the server opens it.
struct Bar {
    w: World,
    portal: Portal,
    idm: ScimClient,
}

async fn bar_world_with(adjust: impl FnOnce(&mut Config)) -> Bar {
    let w = world().await;
    let mut config = w.config.clone();
    config.data_dir = w.db.dir.path().to_owned();
    config.database = w.db.database();
    adjust(&mut config);
    let portal = Portal::open(config).await.unwrap();
    Bar {
        w,
        portal,
        idm: ScimClient {
            name: "entra".into(),
        },
    }
}

async fn bar_world() -> Bar {
    bar_world_with(|_| {}).await
}

fn scim_user(user_name: &str, external_id: &str, active: bool) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "externalId": external_id,
        "name": {"givenName": "Anna", "familyName": "Schmidt"},
        "active": active,
    })
}

fn set_active(active: bool) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": active}],
    })
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

impl Bar {
    fn pool(&self) -> &Db {
        &self.w.db.pool
    }

    /// The IdM provisions a User.
    async fn provisions(&self, user_name: &str, external_id: &str) -> ScimUser {
        create_user(
            &self.portal,
            &self.idm,
            &scim_user(user_name, external_id, true),
            clock::now(),
        )
        .await
        .unwrap()
    }

    /// The IdM turns a User active or inactive, the way Entra ID does.
    async fn sets_active(&self, scim_id: &str, active: bool) {
        patch_user(
            &self.portal,
            &self.idm,
            scim_id,
            &set_active(active),
            None,
            clock::now(),
        )
        .await
        .unwrap();
    }

    /// An OIDC login of `user_id` (as the callback hands it on): a session or why not.
    async fn oidc_login(&self, user_id: &str) -> Result<(), ServiceError> {
        start_session(
            self.pool(),
            &identity(user_id, &[]),
            clock::now(),
            &self.portal.config.session,
        )
        .await
        .map(|_| ())
    }

    async fn count(&self, sql: &str, user_id: &str) -> i64 {
        backend::run!(self.pool(), ex => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(user_id)
            .fetch_one(ex)
            .await)
        .unwrap()
    }

    async fn sessions_of(&self, user_id: &str) -> i64 {
        self.count("SELECT COUNT(*) FROM sessions WHERE user_id = $1", user_id)
            .await
    }

    /// `address`'s row, linked to `user_id` by a confirmed challenge.
    async fn linked_row(&self, address: &str, user_id: &str) -> i64 {
        let row = add_row(self.pool(), self.w.domain.id, address, &[], None, true).await;
        self.w.send(&[row]).await;
        let token = token_for(self.pool(), address).await;
        confirm_challenge(self.pool(), &token, user_id, clock::now())
            .await
            .unwrap();
        row
    }

    async fn request(&self, user_id: &str, row: i64, address: &str) -> Result<(), ServiceError> {
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
        .map(|_| ())
    }
}

fn is_idm_inactive(e: &ServiceError) -> bool {
    matches!(e, ServiceError::Invalid(Message::IdmInactive))
}

#[tokio::test]
async fn r22_no_oidc_session_starts_for_a_user_the_idm_deactivated_until_it_reactivates_them() {
    let b = bar_world().await;
    let anna = b.provisions("anna", "ext-anna").await;
    b.oidc_login("anna").await.unwrap();
    let last_login: i64 = backend::run!(b.pool(), ex => sqlx::query_scalar("SELECT last_login_at FROM users WHERE id = 'anna'")
        .fetch_one(ex)
        .await)
        .unwrap();

    b.sets_active(&anna.id, false).await;
    assert_eq!(b.sessions_of("anna").await, 0, "deprovisioning ended it");
    let e = b.oidc_login("anna").await.unwrap_err();
    assert!(is_idm_inactive(&e), "{e:?}");
    assert!(
        e.to_string().contains("identity management") && e.to_string().contains("NAP"),
        "{e}"
    );
    // Refused before anything was written: no session, the user record as it was.
    assert_eq!(b.sessions_of("anna").await, 0);
    let after: i64 = backend::run!(b.pool(), ex => sqlx::query_scalar("SELECT last_login_at FROM users WHERE id = 'anna'")
        .fetch_one(ex)
        .await)
        .unwrap();
    assert_eq!(after, last_login);
    // Nobody else is barred: neither someone the IdM never named nor another active User.
    b.oidc_login("bob").await.unwrap();
    b.provisions("carla", "ext-carla").await;
    b.oidc_login("carla").await.unwrap();

    // The IdM re-activates anna: she may sign in again.
    b.sets_active(&anna.id, true).await;
    b.oidc_login("anna").await.unwrap();
    assert_eq!(b.sessions_of("anna").await, 1);

    // A User created inactive bars from the start.
    b.create_inactive("dora").await;
    assert!(is_idm_inactive(&b.oidc_login("dora").await.unwrap_err()));
}

impl Bar {
    async fn create_inactive(&self, user_name: &str) -> ScimUser {
        create_user(
            &self.portal,
            &self.idm,
            &scim_user(user_name, &format!("ext-{user_name}"), false),
            clock::now(),
        )
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn r22_a_local_account_the_idm_deactivated_is_refused_after_its_password_and_recorded() {
    let b = bar_world().await;
    create_account(
        b.pool(),
        NewAccount {
            id: "anna".into(),
            given_name: "Anna".into(),
            family_name: "Schmidt".into(),
            email: None,
            groups: vec![],
            password: SecretString::from(PASSWORD),
        },
        "cli:root",
    )
    .await
    .unwrap();
    let guard = SignInGuard::new(SignInConfig::default());
    let client: IpAddr = "192.0.2.7".parse().unwrap();
    let sign_in = |password: &'static str| {
        let guard = &guard;
        let pool = b.pool().clone();
        async move {
            sign_in_with_password(
                &pool,
                guard,
                "anna",
                &SecretString::from(password),
                client,
                clock::now(),
            )
            .await
        }
    };
    let anna = b.provisions("anna", "ext-anna").await;
    let identity = sign_in("anna's long password").await.unwrap();
    assert_eq!(identity.source, IdentitySource::Local);

    b.sets_active(&anna.id, false).await;
    let refused = sign_in("anna's long password").await.unwrap_err();
    assert!(
        matches!(refused, SignInRefused::IdmInactive(IdmInactive)),
        "{refused:?}"
    );
    // A wrong password reads as before: the bar tells a stranger nothing.
    let wrong = sign_in("not anna's password at all").await.unwrap_err();
    assert!(matches!(wrong, SignInRefused::BadCredentials), "{wrong:?}");
    // The session start refuses too, should any path reach it with her identity.
    let e = start_session(b.pool(), &identity, clock::now(), &b.portal.config.session)
        .await
        .unwrap_err();
    assert!(is_idm_inactive(&e), "{e:?}");

    b.sets_active(&anna.id, true).await;
    sign_in("anna's long password").await.unwrap();

    let mut conn = b.pool().acquire().await.unwrap();
    let outcomes: Vec<String> = list_sign_in_events(&mut conn, Some("anna"), 10)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|e| e.outcome)
        .collect();
    assert_eq!(outcomes, ["success", "idm_inactive", "failure", "success"]);
}

#[tokio::test]
async fn r22_a_session_that_outlived_the_deactivation_gets_no_certificate_and_confirms_no_challenge(
) {
    let b = bar_world().await;
    // The domain's NAPs chose "propose": a leaver's row stays active with their links until a
    // NAP accepts — exactly where a leaver could otherwise still request.
    set_deprovision_mode(
        &b.portal,
        &nap_of("nora", &b.w.domain),
        "example.org",
        DeprovisionMode::Propose,
    )
    .await
    .unwrap();
    let anna = b.provisions("anna", "ext-anna").await;
    b.oidc_login("anna").await.unwrap();
    let row = b.linked_row("anna@example.org", "anna").await;
    let other = add_row(
        b.pool(),
        b.w.domain.id,
        "anna.s@example.org",
        &[],
        None,
        true,
    )
    .await;
    b.w.send(&[other]).await;

    b.sets_active(&anna.id, false).await;
    let active: bool = backend::run!(b.pool(), ex => sqlx::query_scalar("SELECT active FROM mailbox_rows WHERE id = $1")
        .bind(row)
        .fetch_one(ex)
        .await)
        .unwrap();
    assert!(active, "proposed, not yet deactivated");

    // Her old session is gone, but a viewer of hers (a session that somehow exists) gets nothing.
    let e = b
        .request("anna", row, "anna@example.org")
        .await
        .unwrap_err();
    assert!(
        matches!(e, ServiceError::Invalid(Message::IdmInactive)),
        "{e:?}"
    );
    assert!(!e.is_internal() && !e.is_forbidden() && !e.is_not_found());
    let token = token_for(b.pool(), "anna.s@example.org").await;
    let e = confirm_challenge(b.pool(), &token, "anna", clock::now())
        .await
        .unwrap_err();
    assert!(
        matches!(e, ServiceError::Invalid(Message::IdmInactive)),
        "{e:?}"
    );
    // Nothing was written: no certificate, the challenge still pending, no link made.
    assert_eq!(
        b.count(
            "SELECT COUNT(*) FROM certificates WHERE user_id = $1",
            "anna"
        )
        .await,
        0
    );
    assert_eq!(
        b.count(
            "SELECT COUNT(*) FROM links WHERE user_id = $1 AND address = 'anna.s@example.org'",
            "anna"
        )
        .await,
        0
    );
    let state: String =
        backend::run!(b.pool(), ex => sqlx::query_scalar("SELECT state FROM challenges WHERE address = 'anna.s@example.org'")
            .fetch_one(ex)
            .await)
            .unwrap();
    assert_eq!(state, "pending");
    // Others are not held up.
    b.oidc_login("bob").await.unwrap();
    confirm_challenge(b.pool(), &token, "bob", clock::now())
        .await
        .unwrap();

    // S5: the IdM re-activates her; the row stayed as it was (the proposal still waits for a
    // NAP), so her link lets her request again.
    b.sets_active(&anna.id, true).await;
    b.request("anna", row, "anna@example.org").await.unwrap();
}

#[tokio::test]
async fn r22_a_user_the_idm_deleted_stays_barred_until_a_user_for_them_is_active_again() {
    let b = bar_world().await;
    let anna = b.provisions("anna", "ext-anna").await;
    b.oidc_login("anna").await.unwrap();
    delete_user(&b.portal, &b.idm, &anna.id, None, clock::now())
        .await
        .unwrap();
    assert_eq!(b.sessions_of("anna").await, 0);
    assert!(is_idm_inactive(&b.oidc_login("anna").await.unwrap_err()));

    // An inactive User deleted later (Entra ID's soft delete, then the purge) stays barred too.
    let carla = b.create_inactive("carla").await;
    delete_user(&b.portal, &b.idm, &carla.id, None, clock::now())
        .await
        .unwrap();
    assert!(is_idm_inactive(&b.oidc_login("carla").await.unwrap_err()));

    // Keycloak creates anna again, active: the bar lifts.
    let again = b.provisions("anna", "ext-anna").await;
    b.oidc_login("anna").await.unwrap();
    // Deactivated again, and deleted again: barred again.
    b.sets_active(&again.id, false).await;
    assert!(is_idm_inactive(&b.oidc_login("anna").await.unwrap_err()));
    delete_user(&b.portal, &b.idm, &again.id, None, clock::now())
        .await
        .unwrap();
    assert!(is_idm_inactive(&b.oidc_login("anna").await.unwrap_err()));
}

#[tokio::test]
async fn r22_the_bar_uses_the_user_id_the_scim_user_id_attribute_names() {
    // Entra ID: users log in with the `oid` claim (oidc.user_id_claim), which SCIM sends as
    // externalId (scim.user_id_attribute); the userName is the UPN.
    let b = bar_world_with(|c| c.scim.user_id_attribute = UserIdAttribute::ExternalId).await;
    let oid = "0f8d1f2c-5a7e-4c53-9d1e-2b7c3e4f5a6b";
    let user = b.provisions("anna@example.org", oid).await;
    assert_eq!(user.user_id, oid);
    b.sets_active(&user.id, false).await;
    assert!(is_idm_inactive(&b.oidc_login(oid).await.unwrap_err()));
    let mut conn = b.pool().acquire().await.unwrap();
    assert!(is_barred(&mut conn, oid).await.unwrap());
    // The userName is not a user ID here: nobody of that name is barred.
    assert!(!is_barred(&mut conn, "anna@example.org").await.unwrap());
    drop(conn);
    b.oidc_login("anna@example.org").await.unwrap();

    // The IdM changes which ID the User stands for (a PUT with another externalId): the old ID is
    // no longer named by the IdM and not barred; the new one is, while the User is inactive.
    let mut body = scim_user("anna@example.org", "1a2b", false);
    body["name"] = json!({"givenName": "Anna"});
    replace_user(&b.portal, &b.idm, &user.id, &body, None, clock::now())
        .await
        .unwrap();
    b.oidc_login(oid).await.unwrap();
    assert!(is_idm_inactive(&b.oidc_login("1a2b").await.unwrap_err()));
}
