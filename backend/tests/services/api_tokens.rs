//! R21 API tokens (and their end by R22) against a real SQLite file, with the clock set by the
//! test: a NAP makes tokens only for the domains they administer, for at most a year; the secret
//! is shown once and only its hash stored; the creator or an operator revokes; a token is refused
//! when expired, revoked, its creator left the contact group, the domain got another contact
//! group, the IdM bars the creator or deprovisions them; its last use is recorded once a minute.

use backend::accounts::{create_account, set_groups, NewAccount};
use backend::api_tokens::{
    authenticate, create_token, creator_viewer, list_all_tokens, list_own_tokens, revoke_token,
    revoke_token_by_cli, ApiAuthRefused, ApiCaller, NewToken, TokenRequest,
    CREATOR_LOGIN_MAX_AGE_DAYS,
};
use backend::clock;
use backend::deprovisioning::deprovision_user;
use backend::domains::{register_domain, set_contact_group};
use backend::error::ServiceError;
use backend::roles::Viewer;
use backend::scim::tokens::ScimClient;
use backend::scim::users::{create_user, patch_user};
use backend::secret::{storage_key, SecretString};
use backend::sessions::start_session;
use backend::storage::domains::DomainRecord;
use backend::storage::Db;
use backend::Portal;
use domain::api_token::ApiScope;
use serde_json::json;

use super::challenges::{session_user, world, World};

const CLI: &str = "cli:root";
use super::{assert_audit_holds_no_secret, audit_records, identity};

/// `example.org` (nap-example) and `other.org` (nap-other); nora is NAP of both and logged in
/// once through the IdM (so the portal knows her groups between logins), bob of `other.org` only.
struct R21 {
    w: World,
    portal: Portal,
    other: DomainRecord,
}

async fn r21_world() -> R21 {
    let w = world().await;
    let mut config = w.config.clone();
    config.data_dir = w.db.dir.path().to_owned();
    config.database = w.db.database();
    let portal = Portal::open(config).await.unwrap();
    let other = register_domain(&w.db.pool, "cli:root", "other.org", "nap-other")
        .await
        .unwrap();
    let r = R21 { w, portal, other };
    r.logs_in("nora", &["nap-example", "nap-other"]).await;
    r.logs_in("bob", &["nap-other"]).await;
    r
}

impl R21 {
    fn pool(&self) -> &Db {
        &self.w.db.pool
    }

    /// An OIDC login with these groups: the groups the portal keeps until the next one.
    async fn logs_in(&self, user_id: &str, groups: &[&str]) {
        self.logs_in_at(user_id, groups, clock::now()).await;
    }

    async fn logs_in_at(&self, user_id: &str, groups: &[&str], at: i64) {
        start_session(
            self.pool(),
            &identity(user_id, groups),
            at,
            &self.portal.config.session,
        )
        .await
        .unwrap();
    }

    /// nora as her session shows her: NAP of both domains.
    fn nora(&self) -> Viewer {
        Viewer {
            user: session_user("nora", &["nap-example", "nap-other"]),
            is_operator: false,
            nap_domains: vec![self.w.domain.clone(), self.other.clone()],
        }
    }

    fn bob(&self) -> Viewer {
        Viewer {
            user: session_user("bob", &["nap-other"]),
            is_operator: false,
            nap_domains: vec![self.other.clone()],
        }
    }

    async fn make(
        &self,
        creator: &Viewer,
        name: &str,
        domains: &[i64],
        scope: ApiScope,
        days: i64,
        now: i64,
    ) -> Result<NewToken, ServiceError> {
        let request = TokenRequest {
            name,
            domain_ids: domains,
            scope,
            days,
        };
        create_token(&self.portal, creator, &request, &creator.user.user_id, now).await
    }

    async fn auth(&self, token: &NewToken, now: i64) -> Result<ApiCaller, ApiAuthRefused> {
        authenticate(&self.portal, token.expose(), now).await
    }

    async fn last_used(&self, id: i64) -> Option<i64> {
        backend::run!(self.pool(), ex => sqlx::query_scalar("SELECT last_used_at FROM api_tokens WHERE id = $1")
            .bind(id)
            .fetch_one(ex)
            .await)
            .unwrap()
    }

    /// (kind, actor, domain) of the token audit records, oldest first.
    async fn token_records(&self) -> Vec<(String, String, Option<i64>)> {
        audit_records(self.pool())
            .await
            .into_iter()
            .filter(|r| r.kind.starts_with("api_token_"))
            .map(|r| (r.kind, r.actor, r.domain_id))
            .collect()
    }
}

fn operator() -> Viewer {
    Viewer {
        user: session_user("olga", &["ra-operators"]),
        is_operator: true,
        nap_domains: vec![],
    }
}

#[tokio::test]
async fn r21_a_nap_makes_tokens_only_for_own_domains_for_at_most_a_year() {
    let r = r21_world().await;
    let now = clock::now();
    let (example, other) = (r.w.domain.id, r.other.id);
    let bob = r.bob();
    // bob administers other.org only: example.org (or a domain that does not exist) is refused.
    for domains in [vec![example], vec![other, example], vec![9999]] {
        let refused = r
            .make(&bob, "sync", &domains, ApiScope::Read, 90, now)
            .await;
        assert!(
            matches!(&refused, Err(e @ ServiceError::Forbidden(_)) if e.to_string().contains("domains you administer")),
            "{refused:?}"
        );
    }
    let none = r.make(&bob, "sync", &[], ApiScope::Read, 90, now).await;
    assert!(
        matches!(&none, Err(e @ ServiceError::Invalid(_)) if e.to_string().contains("at least one domain")),
        "{none:?}"
    );
    for days in [0, -5, 366, 10_000] {
        let refused = r
            .make(&bob, "sync", &[other], ApiScope::Read, days, now)
            .await;
        let Err(e @ ServiceError::Invalid(_)) = refused else {
            panic!("{days}: {refused:?}")
        };
        assert!(e.to_string().contains("at most one year"), "{e}");
    }
    let bad_name = r
        .make(&bob, "My Token", &[other], ApiScope::Read, 90, now)
        .await;
    let Err(e @ ServiceError::Invalid(_)) = bad_name else {
        panic!("{bad_name:?}")
    };
    assert!(e.to_string().contains("not allowed"), "{e}");
    assert!(r.token_records().await.is_empty(), "a refusal wrote");
    let count: i64 =
        backend::run!(r.pool(), ex => sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens")
        .fetch_one(ex)
        .await)
        .unwrap();
    assert_eq!(count, 0);

    // A year is the most.
    let made = r
        .make(&bob, "sync", &[other], ApiScope::ReadWrite, 365, now)
        .await
        .unwrap();
    let expires: i64 = backend::run!(r.pool(), ex => sqlx::query_scalar("SELECT expires_at FROM api_tokens WHERE id = $1")
        .bind(made.id)
        .fetch_one(ex)
        .await)
        .unwrap();
    assert_eq!(expires, now + 365 * 86_400);
    // One name per creator among the tokens not revoked; another creator may use it.
    let again = r
        .make(&bob, "sync", &[other], ApiScope::Read, 90, now)
        .await;
    assert!(
        matches!(&again, Err(e @ ServiceError::Invalid(_)) if e.to_string().contains("a token called sync exists already")),
        "{again:?}"
    );
    r.make(&r.nora(), "sync", &[example], ApiScope::Read, 90, now)
        .await
        .unwrap();
}

#[tokio::test]
async fn r21_the_secret_is_shown_once_and_only_its_hash_is_stored() {
    let r = r21_world().await;
    let now = clock::now();
    let nora = r.nora();
    let token = r
        .make(
            &nora,
            "idm-sync",
            &[r.w.domain.id, r.other.id],
            ApiScope::ReadWrite,
            90,
            now,
        )
        .await
        .unwrap();
    let secret = token.expose().to_owned();
    assert!(
        secret.starts_with("raapi_") && secret.len() == 6 + 43,
        "{}",
        secret.len()
    );
    assert_eq!(format!("{token:?}"), "NewToken(idm-sync, <redacted>)");
    // The database holds the SHA-256, nowhere the secret.
    let (key, row_text): (Vec<u8>, String) = backend::run!(r.pool(), ex => sqlx::query_as(
        "SELECT secret_key, name || creator_id || creator_name || scope || created_by
         FROM api_tokens WHERE id = $1",
    )
    .bind(token.id)
    .fetch_one(ex)
    .await)
    .unwrap();
    assert_eq!(key, storage_key(&secret).to_vec());
    assert!(!row_text.contains(&secret[6..]));
    assert_audit_holds_no_secret(r.pool(), &[&secret, &secret[6..]]).await;
    // Listed (without any secret: the list type has none) with its domains, scope and expiry.
    let mine = list_own_tokens(&r.portal, &nora).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].domains, ["example.org", "other.org"]);
    assert_eq!(mine[0].scope, ApiScope::ReadWrite);
    assert_eq!(mine[0].token.creator_id, "nora");
    assert!(mine[0].in_force(now));
    assert!(format!("{mine:?}").find(&secret[6..]).is_none());
    // bob sees none of nora's; one record per domain of the token, by nora.
    assert!(list_own_tokens(&r.portal, &r.bob())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        r.token_records().await,
        [
            (
                "api_token_created".into(),
                "nora".into(),
                Some(r.w.domain.id)
            ),
            ("api_token_created".into(), "nora".into(), Some(r.other.id)),
        ]
    );
}

#[tokio::test]
async fn r21_a_token_acts_as_its_creator_narrowed_to_its_domains_and_records_its_use() {
    let r = r21_world().await;
    let now = clock::now();
    // nora is an operator too: her token is not.
    r.logs_in("nora", &["nap-example", "nap-other", "ra-operators"])
        .await;
    let token = r
        .make(
            &r.nora(),
            "reader",
            &[r.w.domain.id],
            ApiScope::Read,
            30,
            now,
        )
        .await
        .unwrap();
    let caller = r.auth(&token, now).await.unwrap();
    assert_eq!(caller.token_id, token.id);
    assert_eq!(caller.token_name, "reader");
    assert_eq!(caller.creator_id, "nora");
    assert_eq!(caller.scope, ApiScope::Read);
    assert_eq!(caller.actor(), format!("api:reader#{}@nora", token.id));
    assert_eq!(caller.viewer.user.user_id, caller.actor());
    assert!(!caller.viewer.is_operator);
    assert_eq!(
        caller
            .domains
            .iter()
            .map(|d| &d.name[..])
            .collect::<Vec<_>>(),
        ["example.org"]
    );
    assert!(caller.viewer.administers(r.w.domain.id));
    assert!(!caller.viewer.may_read_domain(r.other.id));
    assert!(caller.require_write().is_err());
    // Last use: written at the first request, not again within the minute, then again.
    assert_eq!(r.last_used(token.id).await, Some(now));
    r.auth(&token, now + 59).await.unwrap();
    assert_eq!(r.last_used(token.id).await, Some(now));
    r.auth(&token, now + 61).await.unwrap();
    assert_eq!(r.last_used(token.id).await, Some(now + 61));
    let listed = list_own_tokens(&r.portal, &r.nora()).await.unwrap();
    assert_eq!(listed[0].token.last_used_at, Some(now + 61));
    // Not a token: malformed, another kind, a changed character.
    for bad in [
        "",
        "raapi_",
        "rascim_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &token.expose().replace("raapi_", "raapi-"),
        &format!("{}x", &token.expose()[..token.expose().len() - 1]),
    ] {
        let refused = authenticate(&r.portal, bad, now).await;
        assert!(matches!(refused, Err(ApiAuthRefused::Unknown)), "{bad}");
    }
    // A read-and-write token may write.
    let writer = r
        .make(
            &r.nora(),
            "writer",
            &[r.w.domain.id],
            ApiScope::ReadWrite,
            30,
            now,
        )
        .await
        .unwrap();
    assert!(r.auth(&writer, now).await.unwrap().require_write().is_ok());
}

#[tokio::test]
async fn r21_the_creator_or_an_operator_revokes_and_the_next_request_is_refused() {
    let r = r21_world().await;
    let now = clock::now();
    let nora = r.nora();
    let mine = r
        .make(&nora, "one", &[r.other.id], ApiScope::Read, 90, now)
        .await
        .unwrap();
    let second = r
        .make(&nora, "two", &[r.other.id], ApiScope::Read, 90, now)
        .await
        .unwrap();
    // bob administers other.org as well, but the token is nora's: not found for him.
    let foreign = revoke_token(&r.portal, &r.bob(), mine.id, now).await;
    assert!(
        matches!(foreign, Err(ServiceError::NotFound(_))),
        "{foreign:?}"
    );
    assert!(r.auth(&mine, now).await.is_ok());
    // The creator revokes.
    let revoked = revoke_token(&r.portal, &nora, mine.id, now + 1)
        .await
        .unwrap();
    assert_eq!(revoked.revoke_reason.as_deref(), Some("revoked_by_creator"));
    assert!(matches!(
        r.auth(&mine, now + 2).await,
        Err(ApiAuthRefused::Revoked)
    ));
    let twice = revoke_token(&r.portal, &nora, mine.id, now + 3).await;
    assert!(matches!(twice, Err(ServiceError::NotFound(_))));
    // The name is free again.
    r.make(&nora, "one", &[r.other.id], ApiScope::Read, 90, now + 4)
        .await
        .unwrap();
    // Operators see every token and revoke any; others may not list them all.
    let all = list_all_tokens(&r.portal, &operator()).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(list_all_tokens(&r.portal, &nora).await.is_err());
    let by_operator = revoke_token(&r.portal, &operator(), second.id, now + 5)
        .await
        .unwrap();
    assert_eq!(
        by_operator.revoke_reason.as_deref(),
        Some("revoked_by_operator")
    );
    assert_eq!(by_operator.revoked_by.as_deref(), Some("olga"));
    assert!(matches!(
        r.auth(&second, now + 6).await,
        Err(ApiAuthRefused::Revoked)
    ));
    let records = r.token_records().await;
    assert_eq!(
        records
            .iter()
            .filter(|(k, _, _)| k == "api_token_revoked")
            .map(|(_, a, _)| &a[..])
            .collect::<Vec<_>>(),
        ["nora", "olga"]
    );
}

#[tokio::test]
async fn r21_an_expired_token_is_refused() {
    let r = r21_world().await;
    let now = clock::now();
    let token = r
        .make(&r.nora(), "short", &[r.w.domain.id], ApiScope::Read, 1, now)
        .await
        .unwrap();
    assert!(r.auth(&token, now + 86_399).await.is_ok());
    assert!(matches!(
        r.auth(&token, now + 86_400).await,
        Err(ApiAuthRefused::Expired)
    ));
    let listed = list_own_tokens(&r.portal, &r.nora()).await.unwrap();
    assert!(!listed[0].in_force(now + 86_400));
}

#[tokio::test]
async fn r21_a_token_stops_when_its_creator_leaves_the_contact_group() {
    let r = r21_world().await;
    let now = clock::now();
    let token = r
        .make(
            &r.nora(),
            "both",
            &[r.w.domain.id, r.other.id],
            ApiScope::ReadWrite,
            90,
            now,
        )
        .await
        .unwrap();
    // nora's next login no longer has other.org's group: the token reaches example.org alone.
    r.logs_in("nora", &["nap-example"]).await;
    let caller = r.auth(&token, now).await.unwrap();
    assert_eq!(
        caller
            .domains
            .iter()
            .map(|d| &d.name[..])
            .collect::<Vec<_>>(),
        ["example.org"]
    );
    assert!(!caller.viewer.administers(r.other.id));
    // Then neither: refused at once, ended for good and audited.
    r.logs_in("nora", &[]).await;
    assert!(matches!(
        r.auth(&token, now + 1).await,
        Err(ApiAuthRefused::CreatorNotNap)
    ));
    let listed = list_own_tokens(&r.portal, &r.nora()).await.unwrap();
    assert_eq!(
        listed[0].token.revoke_reason.as_deref(),
        Some("creator_not_nap")
    );
    // Getting the group back does not bring the token back.
    r.logs_in("nora", &["nap-example", "nap-other"]).await;
    assert!(matches!(
        r.auth(&token, now + 2).await,
        Err(ApiAuthRefused::CreatorNotNap)
    ));
    let ended: Vec<_> = r
        .token_records()
        .await
        .into_iter()
        .filter(|(k, _, _)| k == "api_token_ended")
        .collect();
    assert_eq!(
        ended,
        [
            (
                "api_token_ended".into(),
                "system".into(),
                Some(r.w.domain.id)
            ),
            ("api_token_ended".into(), "system".into(), Some(r.other.id)),
        ]
    );
}

/// SCIM carries no groups: only a login tells the portal that an OIDC creator left a contact
/// group, so after 30 days without one the token waits (refused, not ended) for the next login.
#[tokio::test]
async fn r21_an_oidc_creators_token_waits_for_a_login_once_her_groups_are_30_days_old() {
    let r = r21_world().await;
    let now = clock::now();
    let token = r
        .make(
            &r.nora(),
            "sync",
            &[r.w.domain.id],
            ApiScope::Read,
            365,
            now,
        )
        .await
        .unwrap();
    let later = now + (CREATOR_LOGIN_MAX_AGE_DAYS + 1) * 86_400;
    assert!(r.auth(&token, now + 29 * 86_400).await.is_ok());
    let stale = r.auth(&token, later).await;
    assert!(
        matches!(&stale, Err(ApiAuthRefused::CreatorLoginStale)),
        "{stale:?}"
    );
    assert!(stale.unwrap_err().to_string().contains("log in"));
    let listed = list_own_tokens(&r.portal, &r.nora()).await.unwrap();
    assert_eq!(listed[0].token.revoke_reason, None, "waiting, not ended");
    // Her next login (still NAP) brings it back; a login without the group ends it.
    r.logs_in_at("nora", &["nap-example"], later).await;
    assert!(r.auth(&token, later + 1).await.is_ok());
    r.logs_in_at("nora", &[], later + 2).await;
    assert!(matches!(
        r.auth(&token, later + 3).await,
        Err(ApiAuthRefused::CreatorNotNap)
    ));
}

#[tokio::test]
async fn r21_a_token_stops_when_its_domain_gets_another_contact_group() {
    let r = r21_world().await;
    let now = clock::now();
    let token = r
        .make(&r.nora(), "one", &[r.w.domain.id], ApiScope::Read, 90, now)
        .await
        .unwrap();
    assert!(r.auth(&token, now).await.is_ok());
    set_contact_group(r.pool(), "cli:root", "example.org", "nap-example-new")
        .await
        .unwrap();
    assert!(matches!(
        r.auth(&token, now + 1).await,
        Err(ApiAuthRefused::CreatorNotNap)
    ));
}

/// The IdM's User for a person, active or not.
fn scim_user(user_name: &str, active: bool) -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "externalId": format!("ext-{user_name}"),
        "name": {"givenName": "Nora", "familyName": "Nap"},
        "active": active,
    })
}

#[tokio::test]
async fn r22_a_token_is_refused_while_the_idm_bars_its_creator_and_ends_when_they_leave() {
    let r = r21_world().await;
    let now = clock::now();
    let idm = ScimClient {
        name: "entra".into(),
    };
    let token = r
        .make(&r.nora(), "one", &[r.w.domain.id], ApiScope::Read, 90, now)
        .await
        .unwrap();
    // The IdM first knows nora as inactive (a User created so; nothing was deprovisioned): barred.
    let user = create_user(&r.portal, &idm, &scim_user("nora", false), now)
        .await
        .unwrap();
    assert!(matches!(
        r.auth(&token, now).await,
        Err(ApiAuthRefused::CreatorBarred)
    ));
    // No new token for a barred person either (the command line would try).
    let barred = r
        .make(&r.nora(), "two", &[r.w.domain.id], ApiScope::Read, 90, now)
        .await;
    let Err(e) = barred else { panic!("{barred:?}") };
    assert!(e.to_string().contains("identity management"), "{e}");
    let active = |on: bool| {
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": on}],
        })
    };
    patch_user(&r.portal, &idm, &user.id, &active(true), None, now + 1)
        .await
        .unwrap();
    assert!(r.auth(&token, now + 2).await.is_ok());
    // Then the IdM deactivates her: the deprovisioning ends the token, for good.
    patch_user(&r.portal, &idm, &user.id, &active(false), None, now + 3)
        .await
        .unwrap();
    patch_user(&r.portal, &idm, &user.id, &active(true), None, now + 4)
        .await
        .unwrap();
    assert!(matches!(
        r.auth(&token, now + 5).await,
        Err(ApiAuthRefused::CreatorLeft)
    ));
    assert!(r.token_records().await.contains(&(
        "api_token_ended".into(),
        "scim:entra".into(),
        Some(r.w.domain.id)
    )));
}

#[tokio::test]
async fn r22_deprovisioning_ends_the_leavers_tokens_in_its_transaction() {
    let r = r21_world().await;
    let now = clock::now();
    let nora = r.nora();
    let a = r
        .make(&nora, "a", &[r.w.domain.id], ApiScope::Read, 90, now)
        .await
        .unwrap();
    let b = r
        .make(&nora, "b", &[r.other.id], ApiScope::ReadWrite, 90, now)
        .await
        .unwrap();
    let bobs = r
        .make(&r.bob(), "c", &[r.other.id], ApiScope::Read, 90, now)
        .await
        .unwrap();
    let report = deprovision_user(&r.portal, "nora", "scim:entra", now + 1)
        .await
        .unwrap();
    assert_eq!(report.tokens_ended, 2);
    for t in [&a, &b] {
        assert!(matches!(
            r.auth(t, now + 2).await,
            Err(ApiAuthRefused::CreatorLeft)
        ));
    }
    assert!(r.auth(&bobs, now + 2).await.is_ok());
    // A second report finds nothing left to end.
    let again = deprovision_user(&r.portal, "nora", "scim:entra", now + 3)
        .await
        .unwrap();
    assert_eq!(again.tokens_ended, 0);
    assert!(again.already_done);
}

#[tokio::test]
async fn r21_the_command_line_makes_a_token_for_a_local_accounts_groups() {
    let r = r21_world().await;
    let now = clock::now();
    // A local account that never logged in: its groups are its account's.
    create_account(
        r.pool(),
        NewAccount {
            id: "lena".into(),
            given_name: "Lena".into(),
            family_name: "Local".into(),
            email: None,
            groups: vec!["nap-example".into()],
            password: SecretString::from("lena's long password"),
        },
        "cli:root",
    )
    .await
    .unwrap();
    let lena = creator_viewer(&r.portal, "lena", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lena.nap_domains, std::slice::from_ref(&r.w.domain));
    assert!(creator_viewer(&r.portal, "nobody", now)
        .await
        .unwrap()
        .is_none());
    let request = TokenRequest {
        name: "schemathesis",
        domain_ids: &[r.w.domain.id],
        scope: ApiScope::ReadWrite,
        days: 1,
    };
    let token = create_token(&r.portal, &lena, &request, CLI, now)
        .await
        .unwrap();
    let listed = list_own_tokens(&r.portal, &lena).await.unwrap();
    assert_eq!(listed[0].token.creator_name, "Lena Local");
    assert_eq!(listed[0].token.created_by, CLI);
    assert_eq!(r.auth(&token, now).await.unwrap().creator_id, "lena");
    // Her account loses the group: the token stops.
    set_groups(r.pool(), "lena", &[], "cli:root").await.unwrap();
    assert!(matches!(
        r.auth(&token, now + 1).await,
        Err(ApiAuthRefused::CreatorNotNap)
    ));
    // The command line revokes like an operator.
    let other = create_token(
        &r.portal,
        &creator_viewer(&r.portal, "nora", now)
            .await
            .unwrap()
            .unwrap(),
        &TokenRequest {
            name: "x",
            domain_ids: &[r.other.id],
            scope: ApiScope::Read,
            days: 5,
        },
        CLI,
        now,
    )
    .await
    .unwrap();
    let revoked = revoke_token_by_cli(&r.portal, other.id, CLI, now + 2)
        .await
        .unwrap();
    assert_eq!(revoked.revoked_by.as_deref(), Some(CLI));
}

#[tokio::test]
async fn r21_a_token_is_let_in_while_a_long_write_holds_the_database_and_its_use_is_recorded_later()
{
    if backend::testing::on_postgres() {
        // SQLite's one writer and busy timeout: on PostgreSQL the touch waits for no other
        // writer (only for its token's row), so there is nothing to give up on.
        return;
    }
    let r = r21_world().await;
    let now = clock::now();
    let token = r
        .make(
            &r.nora(),
            "reader",
            &[r.w.domain.id],
            ApiScope::Read,
            30,
            now,
        )
        .await
        .unwrap();
    assert_eq!(r.last_used(token.id).await, None);
    // Another writer (say a bulk apply) holds the write lock while the token's first request,
    // due for recording its use, comes in. The request is let in without waiting for the writer
    // (waiting the pool's busy timeout would end in SQLITE_BUSY and refuse it), and the use is
    // simply not recorded this time.
    let mut writer = r.pool().begin_write().await.unwrap();
    backend::run!(writer, ex => sqlx::query("UPDATE api_tokens SET name = name WHERE id = $1")
        .bind(token.id)
        .execute(ex)
        .await.map(backend::storage::engine::Done::from))
    .unwrap();
    let caller = r.auth(&token, now).await.unwrap();
    assert_eq!(caller.token_id, token.id);
    writer.commit().await.unwrap();
    assert_eq!(r.last_used(token.id).await, None);
    // The next request is due again and records it.
    r.auth(&token, now + 1).await.unwrap();
    assert_eq!(r.last_used(token.id).await, Some(now + 1));
    // Every connection of the portal's pool waits the usual busy timeout again (the short wait
    // was for the one statement only).
    let mut conns = Vec::new();
    let backend::storage::Db::Sqlite(pool) = &r.portal.pool else {
        unreachable!("returned above on PostgreSQL")
    };
    for _ in 0..pool.options().get_max_connections() {
        let mut conn = r.portal.pool.acquire().await.unwrap();
        let timeout: i64 = backend::run!(conn, ex => sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(ex)
            .await)
        .unwrap();
        assert_eq!(timeout, 10_000);
        conns.push(conn);
    }
}
