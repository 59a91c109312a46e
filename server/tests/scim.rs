//! R22: the SCIM 2.0 endpoint `/scim/v2` against the real portal, with the payloads Entra ID,
//! Okta and Keycloak send, and the deprovisioning it triggers.

mod support;

use std::process::Command;

use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use support::{captured_logs, spawn_app, Role, TestApp};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// This binary's log, kept from its first portal on (support::capture_logs).
fn logs() {
    support::capture_logs("debug");
}

/// A portal with a SCIM token called `entra`.
async fn app_with_token() -> (TestApp, String) {
    logs();
    let app = spawn_app().await;
    let token = backend::scim::tokens::create_token(&app.portal, "entra", "olga", 1)
        .await
        .unwrap();
    (app, token.expose().to_owned())
}

async fn send(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Response {
    let mut req = app
        .client()
        .request(method, format!("{}/scim/v2{path}", app.address))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    req.send().await.unwrap()
}

/// The answer's status and JSON body, after checking it is `application/scim+json`.
async fn scim_json(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let media = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    if status == StatusCode::NO_CONTENT {
        return (status, Value::Null);
    }
    assert_eq!(media.as_deref(), Some("application/scim+json"), "{status}");
    (status, resp.json().await.unwrap())
}

/// Sends a SCIM request and reads the answer as [`scim_json`] does.
async fn call(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    scim_json(send(app, token, method, path, body).await).await
}

async fn create(app: &TestApp, token: &str, user: Value) -> Value {
    let (status, body) = call(app, token, reqwest::Method::POST, "/Users", Some(user)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

fn user(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "externalId": external_id,
        "name": {"givenName": "Anna", "familyName": "Schmidt"},
        "displayName": "Anna Schmidt",
        "emails": [{"value": format!("{user_name}@example.org"), "type": "work", "primary": true}],
        "active": true
    })
}

/// Whether the session behind a `ra_session=…` cookie is still in force.
async fn session_alive(app: &TestApp, cookie: &str) -> bool {
    let value = cookie.strip_prefix("ra_session=").unwrap();
    backend::sessions::find_session(
        &app.portal.pool,
        value,
        backend::clock::now(),
        &app.portal.config.session,
    )
    .await
    .unwrap()
    .is_some()
}

/// What deprovisioning recorded of `user_id`: its actor and how many sessions it ended.
async fn deprovisionings_of(app: &TestApp, user_id: &str) -> Vec<(String, i64)> {
    backend::run!(app.portal.pool, ex => sqlx::query_as(
        "SELECT actor, sessions_ended FROM deprovisionings WHERE user_id = $1 ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(ex)
    .await)
    .unwrap()
}

/// The kinds of audit records naming `subject`, oldest first, with their actors.
async fn audit_of(app: &TestApp, subject: &str) -> Vec<(String, String)> {
    backend::run!(app.portal.pool, ex => sqlx::query_as("SELECT kind, actor FROM audit_records WHERE subject = $1 ORDER BY id")
        .bind(subject)
        .fetch_all(ex)
        .await)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r22_without_a_token_in_force_every_scim_route_is_401_with_www_authenticate() {
    let (app, token) = app_with_token().await;
    let revoked = backend::scim::tokens::create_token(&app.portal, "old", "olga", 1)
        .await
        .unwrap();
    backend::scim::tokens::revoke_token(&app.portal, "old", "olga", 2)
        .await
        .unwrap();
    let wrong = format!("{}x", &token[..token.len() - 1]);
    for (auth, path) in [
        (None, "/Users"),
        (Some(wrong.as_str()), "/Users"),
        (Some(revoked.expose()), "/Users?startIndex=1&count=2"),
        (Some("Basic dXNlcjpwYXNz"), "/ServiceProviderConfig"),
        (None, "/Users/anything"),
        (None, "/NoSuchThing"),
    ] {
        let mut req = app.client().get(format!("{}/scim/v2{path}", app.address));
        if let Some(a) = auth {
            let value = if a.starts_with("Basic") {
                a.to_owned()
            } else {
                format!("Bearer {a}")
            };
            req = req.header("authorization", value);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(resp.headers()["www-authenticate"], "Bearer realm=\"scim\"");
        let (_, body) = scim_json(resp).await;
        assert_eq!(body["schemas"], json!([ERROR]));
        assert_eq!(body["status"], "401");
        // Q6: the refusal does not repeat what was sent.
        assert!(!body.to_string().contains(&wrong[7..]), "{body}");
    }
    // A POST without a token changes nothing either.
    let resp = app
        .client()
        .post(format!("{}/scim/v2/Users", app.address))
        .header("content-type", "application/scim+json")
        .body(user("mallory", "m").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (_, list) = call(&app, &token, reqwest::Method::GET, "/Users", None).await;
    assert_eq!(list["totalResults"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r22_users_are_created_read_listed_paged_and_filtered() {
    let (app, token) = app_with_token().await;
    let anna = create(&app, &token, user("anna", "ext-anna")).await;
    create(&app, &token, user("bert", "ext-bert")).await;
    create(&app, &token, user("Carla@Example.org", "ext-carla")).await;

    // What was written is what a GET answers, with the portal's own id and meta.
    let id = anna["id"].as_str().unwrap();
    assert_ne!(id, "anna");
    assert_eq!(anna["meta"]["resourceType"], "User");
    assert_eq!(anna["meta"]["version"], "W/\"1\"");
    assert_eq!(
        anna["meta"]["location"],
        format!("{}/scim/v2/Users/{id}", app.address)
    );
    let resp = send(
        &app,
        &token,
        reqwest::Method::GET,
        &format!("/Users/{id}"),
        None,
    )
    .await;
    assert_eq!(resp.headers()["etag"], "W/\"1\"");
    let (status, got) = scim_json(resp).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, anna);
    assert_eq!(got["emails"][0]["value"], "anna@example.org");
    assert_eq!(got["name"]["familyName"], "Schmidt");

    // userName is unique regardless of case: 409 uniqueness.
    let (status, err) = call(
        &app,
        &token,
        reqwest::Method::POST,
        "/Users",
        Some(user("ANNA", "other")),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        (err["status"].as_str(), err["scimType"].as_str()),
        (Some("409"), Some("uniqueness"))
    );

    // Okta's connection test, then paging.
    let page = |q: &'static str| {
        let app = &app;
        let token = &token;
        async move {
            call(
                app,
                token,
                reqwest::Method::GET,
                &format!("/Users{q}"),
                None,
            )
            .await
            .1
        }
    };
    let first = page("?startIndex=1&count=2").await;
    assert_eq!(
        (
            first["totalResults"].as_i64(),
            first["startIndex"].as_i64(),
            first["itemsPerPage"].as_i64()
        ),
        (Some(3), Some(1), Some(2))
    );
    assert_eq!(
        first["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    assert_eq!(first["Resources"][0]["userName"], "anna");
    let last = page("?startIndex=3&count=2").await;
    assert_eq!(last["Resources"].as_array().unwrap().len(), 1);
    assert_eq!(last["Resources"][0]["userName"], "Carla@Example.org");
    assert_eq!(page("?count=0").await["Resources"], json!([]));

    // The filters Entra ID and Okta use: names and operator in any case, values as sent.
    for (filter, expected) in [
        ("userName eq \"bert\"", Some("bert")),
        (
            "USERNAME EQ \"carla@example.org\"",
            Some("Carla@Example.org"),
        ),
        ("externalId eq \"ext-anna\"", Some("anna")),
        ("externalId eq \"EXT-ANNA\"", None),
        ("userName eq \"nobody\"", None),
    ] {
        let q = format!("/Users?filter={}", urlencode(filter));
        let (status, list) = call(&app, &token, reqwest::Method::GET, &q, None).await;
        assert_eq!(status, StatusCode::OK, "{filter}");
        let names: Vec<_> = list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            expected.into_iter().map(String::from).collect::<Vec<_>>(),
            "{filter}"
        );
    }
    for filter in [
        "userName sw \"a\"",
        "displayName eq \"Anna Schmidt\"",
        "userName eq \"a\" or userName eq \"b\"",
        "userName eq anna",
    ] {
        let q = format!("/Users?filter={}", urlencode(filter));
        let (status, err) = call(&app, &token, reqwest::Method::GET, &q, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{filter}");
        assert_eq!(err["scimType"], "invalidFilter", "{filter}");
    }
    let (status, err) = call(
        &app,
        &token,
        reqwest::Method::GET,
        "/Users?count=many",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["scimType"], "invalidValue");
    let created: Vec<_> = audit_of(&app, "bert").await;
    assert_eq!(
        created,
        vec![("scim_user_created".into(), "scim:entra".into())]
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r22_an_entra_patch_to_inactive_ends_the_users_sessions_and_the_user_stays_readable() {
    let (app, token) = app_with_token().await;
    // `anna` is the portal user ID (OIDC sub) of Role::User in the test support.
    let cookie = app.cookie_for(Role::User).await.unwrap();
    let created = create(&app, &token, user("anna", "ext-anna")).await;
    let id = created["id"].as_str().unwrap();
    assert!(session_alive(&app, &cookie).await);

    // Entra ID looks the user up by externalId, then disables it with a capitalised op and a
    // boolean as text.
    let q = format!("/Users?filter={}", urlencode("externalId eq \"ext-anna\""));
    let (_, found) = call(&app, &token, reqwest::Method::GET, &q, None).await;
    assert_eq!(found["Resources"][0]["id"], id);
    let disable = json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let (status, patched) = call(
        &app,
        &token,
        reqwest::Method::PATCH,
        &format!("/Users/{id}"),
        Some(disable.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["active"], false);
    assert_eq!(patched["meta"]["version"], "W/\"2\"");
    assert!(
        !session_alive(&app, &cookie).await,
        "R22: the session ends at once"
    );
    assert_eq!(
        deprovisionings_of(&app, "anna").await,
        [("scim:entra".to_owned(), 1)]
    );
    let page = app
        .client()
        .get(format!("{}/", app.address))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(page.status().is_success());

    // Okta and Entra read a deactivated user back: it is there, inactive.
    let (status, got) = call(
        &app,
        &token,
        reqwest::Method::GET,
        &format!("/Users/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["active"], false);
    assert_eq!(got["emails"], created["emails"]);

    // Sent again (a retry), it changes nothing and deprovisions nothing new.
    let (status, again) = call(
        &app,
        &token,
        reqwest::Method::PATCH,
        &format!("/Users/{id}"),
        Some(disable),
    )
    .await;
    assert_eq!(
        (status, again["meta"]["version"].as_str()),
        (StatusCode::OK, Some("W/\"2\""))
    );
    assert_eq!(deprovisionings_of(&app, "anna").await.len(), 1);

    // Re-activation changes the stored resource only (S5): the person logs in anew.
    let enable = json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "True"}]});
    let (_, active) = call(
        &app,
        &token,
        reqwest::Method::PATCH,
        &format!("/Users/{id}"),
        Some(enable),
    )
    .await;
    assert_eq!(active["active"], true);
    assert!(!session_alive(&app, &cookie).await);
    let kinds: Vec<String> = audit_of(&app, "anna")
        .await
        .into_iter()
        .map(|(k, a)| {
            assert!(a == "scim:entra", "{a}");
            k
        })
        .filter(|k| k.starts_with("scim_"))
        .collect();
    assert_eq!(
        kinds,
        [
            "scim_user_created",
            "scim_user_changed",
            "scim_user_changed"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r22_every_shape_of_deactivation_deprovisions_and_other_changes_do_not() {
    let (app, token) = app_with_token().await;
    let cookie = app.cookie_for(Role::User).await.unwrap();
    let created = create(&app, &token, user("anna", "ext-anna")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");

    // Changes that keep the user active leave the session alone: Entra's path-less replace of
    // dotted names, an e-mail by value filter, the enterprise extension.
    let (status, changed) = call(&app, &token, reqwest::Method::PATCH, &path, Some(json!({ "schemas": [PATCH], "Operations": [ {"op": "replace", "value": {"name.familyName": "Neumann", "displayName": "Anna Neumann"}}, {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "anna.neumann@example.org"}, {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "PKI"} ] }))).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        changed["name"],
        json!({"givenName": "Anna", "familyName": "Neumann"})
    );
    assert_eq!(changed["emails"][0]["value"], "anna.neumann@example.org");
    assert_eq!(
        changed["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "PKI"
    );
    assert!(session_alive(&app, &cookie).await);

    let shapes = [
        // Entra ID, path-less with a value object.
        (
            reqwest::Method::PATCH,
            json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]}),
        ),
        // Okta: PUT of the whole user with active false.
        (reqwest::Method::PUT, {
            let mut u = user("anna", "ext-anna");
            u["active"] = json!(false);
            u
        }),
        // RFC 7644 with a path and a real boolean.
        (
            reqwest::Method::PATCH,
            json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "active", "value": false}]}),
        ),
    ];
    for (method, body) in shapes {
        let cookie = app.cookie_for(Role::User).await.unwrap();
        let (status, got) = call(&app, &token, method.clone(), &path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::OK, "{body}: {got}");
        assert_eq!(got["active"], false);
        assert!(!session_alive(&app, &cookie).await, "{method} {body}");
        // Back to active for the next shape (Keycloak and Okta re-enable by PUT).
        let (status, _) = call(
            &app,
            &token,
            reqwest::Method::PUT,
            &path,
            Some(user("anna", "ext-anna")),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    // PUT replaces: what the PUT left out is gone.
    let (_, got) = call(&app, &token, reqwest::Method::GET, &path, None).await;
    assert!(got
        .get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        .is_none());

    // If-Match with an old version is refused and changes nothing.
    let resp = app
        .client()
        .patch(format!("{}/scim/v2{path}", app.address))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .header("if-match", "W/\"1\"")
        .body(
            json!({"Operations": [{"op": "replace", "path": "active", "value": false}]})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    let (status, _) = scim_json(resp).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (_, got) = call(&app, &token, reqwest::Method::GET, &path, None).await;
    assert_eq!(got["active"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r22_deleting_an_active_user_deprovisions_then_the_user_is_gone() {
    let (app, token) = app_with_token().await;
    let cookie = app.cookie_for(Role::User).await.unwrap();
    let created = create(&app, &token, user("anna", "ext-anna")).await;
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    let resp = send(&app, &token, reqwest::Method::DELETE, &path, None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(!session_alive(&app, &cookie).await);
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let (status, err) = call(&app, &token, method, &path, None).await;
        assert_eq!(
            (status, err["status"].as_str()),
            (StatusCode::NOT_FOUND, Some("404"))
        );
    }
    let kinds: Vec<String> = audit_of(&app, "anna")
        .await
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("scim_"))
        .collect();
    assert_eq!(kinds, ["scim_user_created", "scim_user_deleted"]);
    // Keycloak creates the user again later: a new resource.
    let again = create(&app, &token, user("anna", "ext-anna")).await;
    assert_ne!(again["id"], created["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r22_q5_q9_bad_requests_are_scim_errors_and_bodies_are_bounded() {
    let (app, token) = app_with_token().await;
    let url = format!("{}/scim/v2/Users", app.address);
    // A cross-origin header does not matter: the token is the authentication (no cookie, no CSRF).
    let big = json!({"schemas": [USER], "userName": "big", "displayName": "x".repeat(1024 * 1024)});
    for (content_type, body, status, scim_type) in [
        ("application/scim+json", big.to_string(), 413, None),
        ("text/plain", user("a", "b").to_string(), 415, None),
        (
            "application/json",
            "{\"userName\": ".to_string(),
            400,
            Some("invalidSyntax"),
        ),
        (
            "application/json",
            json!({"userName": ["x"]}).to_string(),
            400,
            Some("invalidValue"),
        ),
        (
            "application/json",
            json!({"displayName": "no userName"}).to_string(),
            400,
            Some("invalidValue"),
        ),
    ] {
        let resp = app
            .client()
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", content_type)
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .body(body)
            .send()
            .await
            .unwrap();
        let (got, err) = scim_json(resp).await;
        assert_eq!(got.as_u16(), status, "{content_type}: {err}");
        assert_eq!(err["status"], status.to_string());
        assert_eq!(err["scimType"].as_str(), scim_type, "{err}");
    }
    // application/json is taken too (some IdMs send it), and a cross-origin header is no refusal.
    let resp = app
        .client()
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json; charset=utf-8")
        .header("origin", "https://idm.example")
        .body(user("json", "j").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    // Unknown paths and methods are SCIM errors too.
    let (status, err) = call(&app, &token, reqwest::Method::GET, "/Groups", None).await;
    assert_eq!(
        (status, err["status"].as_str()),
        (StatusCode::NOT_FOUND, Some("404"))
    );
    let (status, err) = call(
        &app,
        &token,
        reqwest::Method::DELETE,
        "/ServiceProviderConfig",
        None,
    )
    .await;
    assert_eq!(
        (status, err["status"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("405"))
    );
    // Discovery answers what the IdMs read.
    let (_, spc) = call(
        &app,
        &token,
        reqwest::Method::GET,
        "/ServiceProviderConfig",
        None,
    )
    .await;
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["filter"]["maxResults"], 200);
    let (_, types) = call(&app, &token, reqwest::Method::GET, "/ResourceTypes", None).await;
    assert_eq!(types["Resources"][0]["schema"], USER);
    let (_, schemas) = call(&app, &token, reqwest::Method::GET, "/Schemas", None).await;
    assert_eq!(schemas["totalResults"], 2);
}

/// Runs `ra-portal` on the data folder `dir`.
fn ra_portal(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ra-portal"))
        .args(args)
        .env("RA_PORTAL_DATA_DIR", dir)
        .env("USER", "tester")
        .env_remove("RA_PORTAL_CONFIG")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn r22_an_operator_makes_lists_and_revokes_scim_tokens_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let made = ra_portal(d, &["scim-token", "create", "--name", "entra"]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let token = String::from_utf8(made.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("rascim_") && token.len() == 50, "{token}");
    assert!(String::from_utf8_lossy(&made.stderr).contains("shown only this once"));

    let twice = ra_portal(d, &["scim-token", "create", "--name", "entra"]);
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("exists already"));
    let bad = ra_portal(d, &["scim-token", "create", "--name", "Entra ID"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid token name"));

    let listed = String::from_utf8(ra_portal(d, &["scim-token", "list"]).stdout).unwrap();
    assert!(listed.starts_with("entra\tmade "), "{listed}");
    assert!(
        listed.contains("by cli:tester\tlast used never\tin force"),
        "{listed}"
    );
    // Q8: only the hash is stored: the database file does not hold the token.
    let db = std::fs::read(d.join("portal.sqlite3")).unwrap();
    assert!(!db.windows(token.len()).any(|w| w == token.as_bytes()));

    let revoked = ra_portal(d, &["scim-token", "revoke", "--name", "entra"]);
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    let listed = String::from_utf8(ra_portal(d, &["scim-token", "list"]).stdout).unwrap();
    assert!(
        listed.contains("revoked ") && listed.contains("by cli:tester"),
        "{listed}"
    );
    let again = ra_portal(d, &["scim-token", "revoke", "--name", "entra"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("no token called entra"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r22_token_actions_are_audited_and_each_use_is_recorded() {
    let (app, token) = app_with_token().await;
    let before = backend::scim::tokens::list_tokens(&app.portal)
        .await
        .unwrap();
    assert_eq!(before[0].last_used_at, None);
    let (status, _) = call(&app, &token, reqwest::Method::GET, "/Users", None).await;
    assert_eq!(status, StatusCode::OK);
    let after = backend::scim::tokens::list_tokens(&app.portal)
        .await
        .unwrap();
    assert!(after[0].last_used_at.is_some());
    backend::scim::tokens::revoke_token(&app.portal, "entra", "olga", 3)
        .await
        .unwrap();
    let resp = send(&app, &token, reqwest::Method::GET, "/Users", None).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        audit_of(&app, "entra").await,
        vec![
            ("scim_token_created".into(), "olga".into()),
            ("scim_token_revoked".into(), "olga".into())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q6_no_scim_request_logs_a_token_and_the_log_names_route_templates() {
    let (app, token) = app_with_token().await;
    let wrong = format!("rascim_{}", "A".repeat(43));
    let created = create(&app, &token, user("logged", "ext-logged")).await;
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    let disable = json!({"Operations": [{"op": "replace", "path": "active", "value": false}]});
    send(&app, &token, reqwest::Method::PATCH, &path, Some(disable)).await;
    send(&app, &wrong, reqwest::Method::GET, "/Users", None).await;
    send(
        &app,
        &token,
        reqwest::Method::GET,
        "/Users?filter=userName%20sw%20%22x%22",
        None,
    )
    .await;
    let logs = captured_logs();
    assert!(
        logs.contains("/scim/v2/Users/{id}"),
        "the route template is logged"
    );
    for secret in [token.as_str(), &token[7..], wrong.as_str()] {
        assert!(!logs.contains(secret), "a token reached the log");
    }
}

/// POSTs the login form of a local account; the answer's `Location` and whether it set a session.
async fn local_login(app: &TestApp, username: &str, password: &str) -> (String, bool) {
    let resp = app
        .client()
        .post(format!("{}/auth/login", app.address))
        .header("origin", &app.address)
        .form(&[
            ("username", username),
            ("password", password),
            ("return_to", "/certificates"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let session = resp.headers().get_all("set-cookie").iter().any(|c| {
        c.to_str().unwrap().starts_with("ra_session=") && !c.to_str().unwrap().contains("Max-Age=0")
    });
    (location, session)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r22_a_local_account_the_idm_deactivated_cannot_log_in_and_is_told_why_in_en_and_de() {
    let (app, token) = app_with_token().await;
    let password = "anna's long password";
    backend::accounts::create_account(
        &app.portal.pool,
        backend::accounts::NewAccount {
            id: "anna".into(),
            given_name: "Anna".into(),
            family_name: "Schmidt".into(),
            email: None,
            groups: vec![],
            password: backend::secret::SecretString::from(password),
        },
        "cli:root",
    )
    .await
    .unwrap();
    let created = create(&app, &token, user("anna", "ext-anna")).await;
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    assert_eq!(
        local_login(&app, "anna", password).await,
        ("/certificates".to_owned(), true)
    );

    let disable = json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let (status, _) = call(&app, &token, reqwest::Method::PATCH, &path, Some(disable)).await;
    assert_eq!(status, StatusCode::OK);
    let (location, session) = local_login(&app, "anna", password).await;
    assert!(!session, "no session starts");
    assert!(
        location.starts_with("/login?error=deactivated&return_to="),
        "{location}"
    );
    // A wrong password is told nothing about the IdM.
    let (wrong, _) = local_login(&app, "anna", "not anna's password").await;
    assert!(wrong.starts_with("/login?error=invalid"), "{wrong}");
    let events: Vec<String> =
        backend::run!(app.portal.pool, ex => sqlx::query_scalar("SELECT outcome FROM sign_in_events WHERE user_id = 'anna' ORDER BY id")
            .fetch_all(ex)
            .await)
            .unwrap();
    assert_eq!(events, ["success", "idm_inactive", "failure"]);

    // The login page says why, in the person's language.
    for (lang, text) in [
        (
            "en",
            "identity management, so you cannot log in to the portal",
        ),
        (
            "de",
            "Ihr Konto wurde vom Identitätsmanagement Ihrer Einrichtung deaktiviert",
        ),
    ] {
        let page = app
            .client()
            .get(format!("{}{location}", app.address))
            .header("accept-language", lang)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains(text), "{lang}: {page}");
    }

    // The IdM re-activates her: she logs in again (S5).
    let enable = json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "True"}]});
    let (status, _) = call(&app, &token, reqwest::Method::PATCH, &path, Some(enable)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        local_login(&app, "anna", password).await,
        ("/certificates".to_owned(), true)
    );
}

/// The serials a DER CRL lists, with their reason codes.
fn crl_serials(der: &[u8]) -> Vec<(String, Option<u8>)> {
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

/// R22 journey over HTTP: the IdM's PATCH (Entra's shape) deactivates the leaver's personal row and
/// revokes her certificate (affiliationChanged); by the time the PATCH is answered the CRL the
/// portal publishes lists it; once the sync run is quiet the domain's NAP gets one mail about it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r22_an_idm_patch_deactivates_the_row_revokes_into_the_published_crl_and_mails_the_nap() {
    let (app, token) = app_with_token().await;
    let (row, certificate, serial) = app.annas_certificate("anna.cert@example.org").await;
    // nora (NAP of example.org) has logged in with the domain's contact group and an address.
    app.cookie_for(Role::Nap).await;
    backend::run!(app.portal.pool, ex => sqlx::query("UPDATE users SET email = 'nora@example.org' WHERE id = 'nora'")
        .execute(ex)
        .await.map(backend::storage::engine::Done::from))
        .unwrap();
    let serial_hex = serial.trim_start_matches('0').to_ascii_lowercase();
    let published = |app: &TestApp| {
        let url = format!("{}/pki/ca.crl", app.address);
        let client = app.client();
        async move {
            let resp = client.get(url).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            crl_serials(&resp.bytes().await.unwrap())
        }
    };
    assert!(
        !published(&app)
            .await
            .iter()
            .any(|(s, _)| s.trim_start_matches('0') == serial_hex),
        "valid before the IdM's report"
    );

    let created = create(&app, &token, user("anna", "ext-anna")).await;
    let id = created["id"].as_str().unwrap();
    let disable = json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let (status, body) = call(
        &app,
        &token,
        reqwest::Method::PATCH,
        &format!("/Users/{id}"),
        Some(disable),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The row is inactive, the certificate revoked for the right reason by the IdM's token.
    let active: bool = backend::run!(app.portal.pool, ex => sqlx::query_scalar("SELECT active FROM mailbox_rows WHERE id = $1")
        .bind(row)
        .fetch_one(ex)
        .await)
        .unwrap();
    assert!(!active, "R22: the personal row is deactivated");
    let (reason, by): (Option<String>, String) =
        backend::run!(app.portal.pool, ex => sqlx::query_as("SELECT reason, revoked_by FROM revocations WHERE certificate_id = $1")
            .bind(certificate)
            .fetch_one(ex)
            .await)
            .unwrap();
    assert_eq!(
        (reason.as_deref(), by.as_str()),
        (Some("affiliationChanged"), "scim:entra")
    );
    // Already in the published CRL, with reason code 3 (affiliationChanged): the CRL was signed
    // before the PATCH was answered.
    let listed: Vec<Option<u8>> = published(&app)
        .await
        .into_iter()
        .filter(|(s, _)| s.trim_start_matches('0') == serial_hex)
        .map(|(_, reason)| reason)
        .collect();
    assert_eq!(listed, [Some(3)], "R22/R15: in the CRL at once");

    // The sync run is over once quiet: one mail to the NAP naming the leaver's address, never a
    // second one for the same run.
    let later = backend::clock::now() + 60 * 60;
    let sent = backend::deprovisioning::send_run_reports(&app.portal, later)
        .await
        .unwrap();
    assert_eq!(sent, 1, "one mail for the one domain's one NAP");
    let again = backend::deprovisioning::send_run_reports(&app.portal, later + 60)
        .await
        .unwrap();
    assert_eq!(again, 0, "never twice for one run");
    // The newest mail to nora is that report; its text while queued, else the delivered file
    // (the running portal's worker clears the body once it has delivered it).
    let (message_id, body): (String, Option<String>) =
        backend::run!(app.portal.pool, ex => sqlx::query_as(
        "SELECT message_id, body_text FROM mail_outbox WHERE recipient = 'nora@example.org'
         ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(ex)
    .await)
        .unwrap();
    let text = match body {
        Some(text) => text,
        None => std::fs::read_dir(app.dir.path().join("mail"))
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
            .find(|text| text.contains(message_id.trim_matches(['<', '>'])))
            .expect("the NAP's mail in the mail folder")
            // Quoted-printable soft line breaks could split the address.
            .replace("=\r\n", "")
            .replace("=\n", ""),
    };
    assert!(
        text.contains("anna.cert@example.org"),
        "the mail names the row: {text}"
    );
}
