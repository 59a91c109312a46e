//! R21: the REST API at `/api/v1` against the real portal: who a token lets in (the
//! authorization table), optimistic concurrency with `If-Match`, the idempotent upsert, problem
//! details for every refusal (Q9), the rate limit, bearer-only authentication (Q1, Q3, Q6) and
//! the one-step leaver (R19) with the token as actor.

mod support;

use backend::api_tokens::{self, TokenRequest};
use backend::identity::{Identity, IdentitySource};
use domain::api_token::ApiScope;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::{captured_logs, spawn_app, spawn_app_with, Role, TestApp};

const PROBLEM: &str = "application/problem+json";

/// A portal, with this binary's log captured from its first portal on (support::capture_logs:
/// every test calls it first, whichever runs first).
async fn portal() -> TestApp {
    support::capture_logs("debug");
    spawn_app().await
}

/// An answer: status, headers, JSON body (`Null` when empty).
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// Sends a request to `/api/v1{path}` with `token` (if any) and a JSON body (if any).
async fn send(
    app: &TestApp,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut req = app
        .client()
        .request(method, format!("{}/api/v1{path}", app.address));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    read(req.send().await.unwrap()).await
}

async fn read(resp: reqwest::Response) -> Answer {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}"))
    };
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(app: &TestApp, token: &str, path: &str) -> Answer {
    send(app, Some(token), Method::GET, path, None, &[]).await
}

/// Checks a refusal is RFC 9457 problem details of `status`.
fn assert_problem(a: &Answer, status: StatusCode) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.header("content-type"), Some(PROBLEM), "{status}");
    assert_eq!(a.body["status"], status.as_u16(), "{}", a.body);
    for member in ["type", "title", "detail"] {
        assert!(
            a.body[member].as_str().is_some_and(|s| !s.is_empty()),
            "{status}: no {member} in {}",
            a.body
        );
    }
}

/// Logs `user_id` in with `groups` (which records them as the user's current groups) and makes
/// them a token for `domains` with `scope`.
async fn token_of(
    app: &TestApp,
    user_id: &str,
    groups: &[&str],
    domains: &[&str],
    scope: ApiScope,
    name: &str,
) -> (i64, String) {
    log_in(app, user_id, groups).await;
    let creator = backend::api_tokens::creator_viewer(&app.portal, user_id, backend::clock::now())
        .await
        .unwrap()
        .expect("the creator has groups");
    let ids: Vec<i64> = domains
        .iter()
        .map(|d| {
            creator
                .nap_domains
                .iter()
                .find(|x| x.name == *d)
                .unwrap()
                .id
        })
        .collect();
    let made = api_tokens::create_token(
        &app.portal,
        &creator,
        &TokenRequest {
            name,
            domain_ids: &ids,
            scope,
            days: 30,
        },
        user_id,
        backend::clock::now(),
    )
    .await
    .unwrap();
    (made.id, made.expose().to_owned())
}

async fn log_in(app: &TestApp, user_id: &str, groups: &[&str]) {
    let identity = Identity {
        user_id: user_id.into(),
        given_name: "Test".into(),
        family_name: user_id.into(),
        email: None,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        source: IdentitySource::Oidc,
    };
    backend::sessions::start_session(
        &app.portal.pool,
        &identity,
        backend::clock::now(),
        &app.portal.config.session,
    )
    .await
    .unwrap();
}

/// nora's read-and-write token for example.org.
async fn noras_token(app: &TestApp) -> String {
    token_of(
        app,
        "nora",
        &["nap-example"],
        &["example.org"],
        ApiScope::ReadWrite,
        "idm-sync",
    )
    .await
    .1
}

async fn audit_count(app: &TestApp, actor_like: &str) -> i64 {
    backend::run!(app.portal.pool, ex => sqlx::query_scalar("SELECT COUNT(*) FROM audit_records WHERE actor LIKE $1")
        .bind(actor_like)
        .fetch_one(ex)
        .await)
        .unwrap()
}

#[tokio::test]
async fn r21_authorization_table_other_domain_read_only_expired_revoked_and_ex_nap_tokens_leak_nothing(
) {
    let app = portal().await;
    let (org_row, _) = app.example_row("a-row@example.org").await;
    let otto = app.viewer(Role::NapOfOtherDomain).await;
    let net_row = backend::rows::create_row(
        &app.portal.pool,
        &otto,
        "example.net",
        "b-row@example.net",
        &backend::rows::RowInput {
            last_name: "Other".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id;

    let rw = token_of(
        &app,
        "nora",
        &["nap-example"],
        &["example.org"],
        ApiScope::ReadWrite,
        "rw",
    )
    .await;
    let ro = token_of(
        &app,
        "nora",
        &["nap-example"],
        &["example.org"],
        ApiScope::Read,
        "ro",
    )
    .await;
    let net = token_of(
        &app,
        "otto",
        &["nap-other"],
        &["example.net"],
        ApiScope::ReadWrite,
        "net",
    )
    .await;
    let expired = token_of(
        &app,
        "nora",
        &["nap-example"],
        &["example.org"],
        ApiScope::ReadWrite,
        "old",
    )
    .await;
    // Made 31 days ago for 30 days (the table's CHECK wants expiry after creation).
    backend::run!(app.portal.pool, ex => sqlx::query(
        "UPDATE api_tokens SET created_at = $1 - 31 * 86400, expires_at = $1 - 86400 WHERE id = $2",
    )
    .bind(backend::clock::now())
    .bind(expired.0)
    .execute(ex)
    .await.map(backend::storage::engine::Done::from))
    .unwrap();
    let revoked = token_of(
        &app,
        "nora",
        &["nap-example"],
        &["example.org"],
        ApiScope::ReadWrite,
        "gone",
    )
    .await;
    let nora = app.viewer(Role::Nap).await;
    api_tokens::revoke_token(&app.portal, &nora, revoked.0, backend::clock::now())
        .await
        .unwrap();
    // xena made a token as NAP of example.org, then left its contact group (her next login
    // brings her groups without it).
    let ex_nap = token_of(
        &app,
        "xena",
        &["nap-example"],
        &["example.org"],
        ApiScope::ReadWrite,
        "ex",
    )
    .await;
    log_in(&app, "xena", &["staff"]).await;

    let org = "/domains/example.org";
    let requests: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("{org}/rows"), None),
        (Method::GET, format!("{org}/rows/{org_row}"), None),
        (
            Method::GET,
            format!("/domains/example.net/rows/{net_row}"),
            None,
        ),
        (Method::GET, format!("{org}/rows/{net_row}"), None),
        (
            Method::GET,
            format!("{org}/rows/by-address/a-row@example.org"),
            None,
        ),
        (Method::GET, format!("{org}/audit"), None),
        (Method::GET, format!("{org}/certificates"), None),
        (
            Method::POST,
            format!("{org}/rows"),
            Some(json!({"primary_address": "new@example.org"})),
        ),
        (
            Method::PUT,
            format!("{org}/rows/by-address/put@example.org"),
            Some(json!({"last_name": "Put"})),
        ),
        (
            Method::POST,
            "/domains/example.net/challenges".to_string(),
            Some(json!({"rows": [net_row]})),
        ),
        (
            Method::POST,
            format!("{org}/rows/{org_row}/deactivate"),
            Some(json!({"revoke": false})),
        ),
    ];
    use StatusCode as S;
    let (ok, created, no, forbidden, unauth) = (
        S::OK,
        S::CREATED,
        S::NOT_FOUND,
        S::FORBIDDEN,
        S::UNAUTHORIZED,
    );
    let table: Vec<(&str, Option<&str>, [StatusCode; 11])> = vec![
        (
            "read+write example.org",
            Some(&rw.1),
            [ok, ok, no, no, ok, ok, ok, created, created, no, ok],
        ),
        (
            "read-only example.org",
            Some(&ro.1),
            [
                ok, ok, no, no, ok, ok, ok, forbidden, forbidden, forbidden, forbidden,
            ],
        ),
        (
            "read+write example.net",
            Some(&net.1),
            [no, no, ok, no, no, no, no, no, no, ok, no],
        ),
        ("expired", Some(&expired.1), [unauth; 11]),
        ("revoked", Some(&revoked.1), [unauth; 11]),
        ("creator no longer NAP", Some(&ex_nap.1), [unauth; 11]),
        ("no token", None, [unauth; 11]),
        (
            "not a token",
            Some("raapi_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            [unauth; 11],
        ),
    ];
    let mut leaks = Vec::new();
    // The read-only and other tokens go first, so that the write token's changes come last.
    for (label, token, expected) in table.iter().rev() {
        for ((method, path, body), want) in requests.iter().zip(expected) {
            let a = send(&app, *token, method.clone(), path, body.clone(), &[]).await;
            if a.status != *want {
                leaks.push(format!(
                    "{label}: {method} {path} gave {} not {want}: {}",
                    a.status, a.body
                ));
            }
            if !a.status.is_success() {
                assert_problem(&a, a.status);
            }
            // Nothing of a domain the token does not reach, in any answer.
            let foreign = match *label {
                "read+write example.net" => "a-row@example.org",
                _ => "b-row@example.net",
            };
            if a.body.to_string().contains(foreign) {
                leaks.push(format!(
                    "{label}: {method} {path} shows {foreign}: {}",
                    a.body
                ));
            }
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
    // Refused tokens changed nothing: no audit record names them.
    for name in ["ro", "old", "gone", "ex"] {
        assert_eq!(
            audit_count(&app, &format!("api:{name}#%")).await,
            0,
            "{name}"
        );
    }
    let rows: i64 = backend::run!(app.portal.pool, ex => sqlx::query_scalar("SELECT COUNT(*) FROM mailbox_rows")
        .fetch_one(ex)
        .await)
        .unwrap();
    assert_eq!(rows, 4, "two rows arranged, two made by the write token");
}

#[tokio::test]
async fn r21_if_match_refuses_a_stale_version_with_412_and_saves_the_current_one() {
    let app = portal().await;
    let token = noras_token(&app).await;
    let made = send(
        &app,
        Some(&token),
        Method::POST,
        "/domains/example.org/rows",
        Some(json!({"primary_address": "Grace@Example.org", "first_name": "Grace", "last_name": "Hopper"})),
        &[],
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let id = made.body["id"].as_i64().unwrap();
    assert_eq!(made.body["primary_address"], "grace@example.org");
    let location = made.header("location").unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/domains/example.org/rows/{id}"));
    let first = made.header("etag").unwrap().to_owned();
    assert_eq!(first, format!("\"{}\"", made.body["version"]));

    let path = format!("/domains/example.org/rows/{id}");
    let edit = |last: &str| json!({"first_name": "Grace", "last_name": last, "aliases": ["g.hopper@example.org"]});
    let saved = send(
        &app,
        Some(&token),
        Method::PUT,
        &path,
        Some(edit("Murray Hopper")),
        &[("if-match", &first)],
    )
    .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(saved.body["aliases"], json!(["g.hopper@example.org"]));
    let second = saved.header("etag").unwrap().to_owned();
    assert_ne!(first, second);

    // Someone edits on the version they read before: refused, nothing written.
    let stale = send(
        &app,
        Some(&token),
        Method::PUT,
        &path,
        Some(edit("Stale")),
        &[("if-match", &first)],
    )
    .await;
    assert_problem(&stale, StatusCode::PRECONDITION_FAILED);
    let now = get(&app, &token, &path).await;
    assert_eq!(now.body["last_name"], "Murray Hopper");
    assert_eq!(now.header("etag"), Some(second.as_str()));

    // Without If-Match a change is refused too (428): it must say what it is based on.
    let blind = send(
        &app,
        Some(&token),
        Method::PUT,
        &path,
        Some(edit("Blind")),
        &[],
    )
    .await;
    assert_problem(&blind, StatusCode::PRECONDITION_REQUIRED);
    // The same change on the current version goes through.
    let again = send(
        &app,
        Some(&token),
        Method::PUT,
        &path,
        Some(edit("Hopper")),
        &[("if-match", &second)],
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["last_name"], "Hopper");
    let third = again.header("etag").unwrap().to_owned();

    // RFC 9110 §13.1.1: a weak tag never matches; `*` matches any current version, and none
    // when there is no row.
    let weak = format!("W/{third}");
    let refused = send(
        &app,
        Some(&token),
        Method::PUT,
        &path,
        Some(edit("Weak")),
        &[("if-match", &weak)],
    )
    .await;
    assert_problem(&refused, StatusCode::PRECONDITION_FAILED);
    let any = send(
        &app,
        Some(&token),
        Method::PUT,
        &path,
        Some(edit("Any")),
        &[("if-match", "*")],
    )
    .await;
    assert_eq!(any.status, StatusCode::OK, "{}", any.body);
    let missing = send(
        &app,
        Some(&token),
        Method::PUT,
        "/domains/example.org/rows/by-address/nobody@example.org",
        Some(json!({"last_name": "Nobody"})),
        &[("if-match", "*")],
    )
    .await;
    assert_problem(&missing, StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn r21_put_by_address_twice_makes_one_row_and_one_audit_record_with_the_token_as_actor() {
    let app = portal().await;
    let token = noras_token(&app).await;
    let path = "/domains/example.org/rows/by-address/helpdesk@example.org";
    let body = json!({
        "last_name": "Helpdesk",
        "mailbox_type": "functional",
        "applicant_address": "anna@example.org",
        "aliases": ["support@example.org"],
        "comment": "from the IdM",
    });
    let first = send(
        &app,
        Some(&token),
        Method::PUT,
        path,
        Some(body.clone()),
        &[],
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let second = send(
        &app,
        Some(&token),
        Method::PUT,
        path,
        Some(body.clone()),
        &[],
    )
    .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(first.body["id"], second.body["id"]);
    assert_eq!(
        first.body["version"], second.body["version"],
        "nothing changed"
    );
    let rows: i64 =
        backend::run!(app.portal.pool, ex => sqlx::query_scalar("SELECT COUNT(*) FROM mailbox_rows WHERE primary_address = $1")
            .bind("helpdesk@example.org")
            .fetch_one(ex)
            .await)
            .unwrap();
    assert_eq!(rows, 1);
    let trail = get(
        &app,
        &token,
        "/domains/example.org/audit?row=helpdesk@example.org",
    )
    .await;
    assert_eq!(trail.status, StatusCode::OK, "{}", trail.body);
    let records = trail.body["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["kind"], "row_created");
    let actor = records[0]["actor"].as_str().unwrap();
    assert!(
        actor.starts_with("api:idm-sync#") && actor.ends_with("@nora"),
        "{actor}"
    );

    // A change through the upsert is an edit by the rules (R4), and deactivating through it does
    // not revoke (as a CSV line with Active no, R8).
    let changed = send(&app, Some(&token), Method::PUT, path, Some(json!({
        "last_name": "Helpdesk", "mailbox_type": "functional", "applicant_address": "anna@example.org",
        "aliases": [], "comment": "from the IdM", "active": false
    })), &[]).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["aliases"], json!([]));
    assert_eq!(changed.body["active"], false);
    // If-Match with a version the row no longer has: 412.
    let stale = send(
        &app,
        Some(&token),
        Method::PUT,
        path,
        Some(body),
        &[("if-match", "\"1\"")],
    )
    .await;
    assert_problem(&stale, StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn r21_an_upsert_that_is_refused_changes_nothing_neither_fields_nor_active_nor_the_trail() {
    let app = portal().await;
    let token = noras_token(&app).await;
    let path = "/domains/example.org/rows/by-address/lab@example.org";
    let trail_path = "/domains/example.org/audit?row=lab@example.org";
    let created = send(
        &app,
        Some(&token),
        Method::PUT,
        path,
        Some(json!({"first_name": "Lab", "last_name": "Bench", "comment": "as it was"})),
        &[],
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);

    // Valid new fields and a deactivation, together with one field that breaks a rule (an
    // applicant on a personal row): 422, and neither the comment nor `active` lands.
    let refused = send(
        &app,
        Some(&token),
        Method::PUT,
        path,
        Some(json!({
            "first_name": "Lab", "last_name": "Renamed", "comment": "new note",
            "applicant_address": "anna@example.org", "active": false
        })),
        &[],
    )
    .await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    // A stale If-Match with an otherwise valid change and deactivation: 412, nothing lands.
    let stale = send(
        &app,
        Some(&token),
        Method::PUT,
        path,
        Some(json!({"first_name": "Lab", "last_name": "Renamed", "active": false})),
        &[("if-match", "\"7\"")],
    )
    .await;
    assert_problem(&stale, StatusCode::PRECONDITION_FAILED);
    let now = get(&app, &token, path).await;
    assert_eq!(now.status, StatusCode::OK, "{}", now.body);
    assert_eq!(now.body["version"], created.body["version"]);
    assert_eq!(now.body["last_name"], "Bench");
    assert_eq!(now.body["comment"], "as it was");
    assert_eq!(now.body["active"], true);
    let trail = get(&app, &token, trail_path).await;
    let kinds: Vec<&Value> = trail.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["kind"])
        .collect();
    assert_eq!(kinds, [&json!("row_created")], "{}", trail.body);

    // A new address with a deactivation and a broken field: no row, no record.
    let missing = "/domains/example.org/rows/by-address/never@example.org";
    let refused_new = send(
        &app,
        Some(&token),
        Method::PUT,
        missing,
        Some(json!({"last_name": "Never", "aliases": ["not an address"], "active": false})),
        &[],
    )
    .await;
    assert_problem(&refused_new, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        get(&app, &token, missing).await.status,
        StatusCode::NOT_FOUND
    );
    let none = get(
        &app,
        &token,
        "/domains/example.org/audit?row=never@example.org",
    )
    .await;
    assert_eq!(none.body["records"], json!([]), "{}", none.body);

    // The same change without the broken field lands whole, in one version step, audited as an
    // edit and a deactivation (R16).
    let applied = send(
        &app,
        Some(&token),
        Method::PUT,
        path,
        Some(json!({"first_name": "Lab", "last_name": "Renamed", "comment": "new note", "active": false})),
        &[("if-match", &format!("\"{}\"", created.body["version"]))],
    )
    .await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.body);
    assert_eq!(applied.body["last_name"], "Renamed");
    assert_eq!(applied.body["active"], false);
    assert_eq!(
        applied.body["version"].as_i64().unwrap(),
        created.body["version"].as_i64().unwrap() + 1
    );
    let trail = get(&app, &token, trail_path).await;
    let mut kinds: Vec<&str> = trail.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["row_created", "row_deactivated", "row_edited"]);
}

#[tokio::test]
async fn q9_every_refusal_is_rfc_9457_problem_details_with_field_errors_where_fields_are_wrong() {
    let app = portal().await;
    let token = noras_token(&app).await;
    let (_, ro) = token_of(
        &app,
        "nora",
        &["nap-example"],
        &["example.org"],
        ApiScope::Read,
        "reader",
    )
    .await;
    let rows = "/domains/example.org/rows";
    let url = format!("{}/api/v1{rows}", app.address);

    // 400: not JSON.
    let broken = app
        .client()
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(&read(broken).await, StatusCode::BAD_REQUEST);
    // 400: a query parameter of the wrong type, and a cursor the list did not give.
    assert_problem(
        &get(&app, &token, &format!("{rows}?limit=many")).await,
        StatusCode::BAD_REQUEST,
    );
    assert_problem(
        &get(&app, &token, &format!("{rows}?cursor=bm90IGEgY3Vyc29y")).await,
        StatusCode::BAD_REQUEST,
    );
    // 401.
    assert_problem(
        &send(&app, None, Method::GET, rows, None, &[]).await,
        StatusCode::UNAUTHORIZED,
    );
    // 403: a read-only token writing.
    let denied = send(
        &app,
        Some(&ro),
        Method::POST,
        rows,
        Some(json!({"primary_address": "x@example.org"})),
        &[],
    )
    .await;
    assert_problem(&denied, StatusCode::FORBIDDEN);
    // 404: an unknown row, an unknown domain, an unknown path.
    assert_problem(
        &get(&app, &token, &format!("{rows}/999999")).await,
        StatusCode::NOT_FOUND,
    );
    assert_problem(
        &get(&app, &token, "/domains/nowhere.example/rows").await,
        StatusCode::NOT_FOUND,
    );
    assert_problem(
        &get(&app, &token, "/no/such/thing").await,
        StatusCode::NOT_FOUND,
    );
    // 405.
    assert_problem(
        &send(&app, Some(&token), Method::DELETE, "/domains", None, &[]).await,
        StatusCode::METHOD_NOT_ALLOWED,
    );
    // 409: deleting a row that had a challenge (R3).
    let made = send(
        &app,
        Some(&token),
        Method::POST,
        rows,
        Some(json!({"primary_address": "c@example.org", "last_name": "C"})),
        &[],
    )
    .await;
    let id = made.body["id"].as_i64().unwrap();
    let sent = send(
        &app,
        Some(&token),
        Method::POST,
        "/domains/example.org/challenges",
        Some(json!({"rows": [id]})),
        &[],
    )
    .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    assert_eq!(sent.body["challenges"], 1);
    let current = get(&app, &token, &format!("{rows}/{id}")).await;
    let tag = current.header("etag").unwrap().to_owned();
    let refused = send(
        &app,
        Some(&token),
        Method::DELETE,
        &format!("{rows}/{id}"),
        None,
        &[("if-match", &tag)],
    )
    .await;
    assert_problem(&refused, StatusCode::CONFLICT);
    // 413: a body over the limit.
    let big = json!({"primary_address": "big@example.org", "comment": "x".repeat(300 * 1024)});
    assert_problem(
        &send(&app, Some(&token), Method::POST, rows, Some(big), &[]).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    );
    // 415: not JSON at all.
    let form = app
        .client()
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("primary=x")
        .send()
        .await
        .unwrap();
    assert_problem(&read(form).await, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // 422: a field the body does not have, and rules broken at named fields, all at once.
    let unknown = send(
        &app,
        Some(&token),
        Method::POST,
        rows,
        Some(json!({"primary_address": "u@example.org", "nickname": "U"})),
        &[],
    )
    .await;
    assert_problem(&unknown, StatusCode::UNPROCESSABLE_ENTITY);
    let invalid = send(&app, Some(&token), Method::POST, rows, Some(json!({
        "primary_address": "not an address", "last_name": "X", "aliases": ["elsewhere@example.net"]
    })), &[]).await;
    assert_problem(&invalid, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = invalid.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"primary_address") && fields.contains(&"aliases"),
        "{}",
        invalid.body
    );
    assert!(invalid.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["message"].as_str().is_some_and(|m| !m.is_empty())));
    // 428.
    assert_problem(
        &send(
            &app,
            Some(&token),
            Method::PUT,
            &format!("{rows}/{id}"),
            Some(json!({})),
            &[],
        )
        .await,
        StatusCode::PRECONDITION_REQUIRED,
    );
}

#[tokio::test]
async fn r21_a_token_over_its_rate_limit_gets_429_with_retry_after_and_other_tokens_go_on() {
    support::capture_logs("debug");
    let app = spawn_app_with(|c| {
        c.api.rate_limit_per_minute = 1;
        c.api.rate_limit_burst = 2;
    })
    .await;
    let token = noras_token(&app).await;
    // Another person's token: the limit is per creator (a second token of nora's shares hers, see
    // r21_two_tokens_of_one_creator_share_one_rate_limit).
    let (_, other) = token_of(
        &app,
        "otto",
        &["nap-other"],
        &["example.net"],
        ApiScope::Read,
        "other",
    )
    .await;
    assert_eq!(get(&app, &token, "/domains").await.status, StatusCode::OK);
    assert_eq!(get(&app, &token, "/domains").await.status, StatusCode::OK);
    let limited = get(&app, &token, "/domains").await;
    assert_problem(&limited, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(get(&app, &other, "/domains").await.status, StatusCode::OK);
}

#[tokio::test]
async fn q1_without_a_valid_bearer_token_the_answer_is_401_and_a_session_cookie_counts_for_nothing()
{
    let app = portal().await;
    let (_, ro) = token_of(
        &app,
        "nora",
        &["nap-example"],
        &["example.org"],
        ApiScope::Read,
        "reader",
    )
    .await;
    let url = format!("{}/api/v1/domains/example.org/rows", app.address);
    let nap_cookie = app.cookie_for(Role::Nap).await.unwrap();
    let attempts = [
        app.client().get(&url),
        app.client().get(&url).header("authorization", "Bearer"),
        app.client()
            .get(&url)
            .header("authorization", "Bearer not-a-token"),
        app.client()
            .get(&url)
            .header("authorization", format!("Basic {ro}")),
        app.client()
            .get(&url)
            .header("authorization", format!("Bearer {ro}x")),
        app.client().get(&url).header("cookie", &nap_cookie),
        app.client()
            .post(&url)
            .header("cookie", &nap_cookie)
            .header("origin", &app.address)
            .json(&json!({"primary_address": "c@example.org"})),
    ];
    for attempt in attempts {
        let a = read(attempt.send().await.unwrap()).await;
        assert_problem(&a, StatusCode::UNAUTHORIZED);
        assert!(a.header("www-authenticate").unwrap().starts_with("Bearer"));
    }
    // A NAP's session cookie beside a read-only token does not lift it to writing (Q3: no cookie
    // is read, so no cross-site request can borrow one).
    let both = app
        .client()
        .post(&url)
        .bearer_auth(&ro)
        .header("cookie", &nap_cookie)
        .json(&json!({"primary_address": "c@example.org"}))
        .send()
        .await
        .unwrap();
    assert_problem(&read(both).await, StatusCode::FORBIDDEN);
    // The token works from anywhere: no Origin needed for its writes either (it is no cookie).
    let listed = app
        .client()
        .get(&url)
        .bearer_auth(&ro)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    // Q6: no token in the log, which names route templates.
    let logs = captured_logs();
    assert!(!logs.contains(&ro), "a token reached the log");
    assert!(
        logs.contains("/api/v1/domains/{domain}/rows"),
        "the log names the route template"
    );
}

#[tokio::test]
async fn r19_deactivating_through_the_api_revokes_the_rows_certificates_in_one_step_with_the_token_as_actor(
) {
    let app = portal().await;
    let (row, certificate, _) = app.annas_certificate("anna@example.org").await;
    let token = noras_token(&app).await;
    let valid = get(
        &app,
        &token,
        "/domains/example.org/certificates?status=valid",
    )
    .await;
    assert_eq!(valid.status, StatusCode::OK, "{}", valid.body);
    assert_eq!(valid.body["certificates"][0]["id"], certificate);
    // R15: a NAP revokes only certificates of inactive rows.
    let early = send(
        &app,
        Some(&token),
        Method::POST,
        &format!("/domains/example.org/certificates/{certificate}/revoke"),
        Some(json!({"reason": "superseded"})),
        &[],
    )
    .await;
    assert_problem(&early, StatusCode::CONFLICT);

    let done = send(
        &app,
        Some(&token),
        Method::POST,
        &format!("/domains/example.org/rows/{row}/deactivate"),
        None,
        &[],
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["revoked"], 1);
    assert_eq!(done.body["row"]["active"], false);
    let all = get(&app, &token, "/domains/example.org/certificates").await;
    let revoked = &all.body["certificates"][0];
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["revocation"]["reason"], "affiliationChanged");
    assert!(revoked["revocation"]["by"]
        .as_str()
        .unwrap()
        .starts_with("api:idm-sync#"));
    assert_eq!(
        get(
            &app,
            &token,
            "/domains/example.org/certificates?status=valid"
        )
        .await
        .body["certificates"],
        json!([])
    );
    let trail = get(
        &app,
        &token,
        "/domains/example.org/audit?kind=certificate_revoked",
    )
    .await;
    assert_eq!(
        trail.body["records"].as_array().unwrap().len(),
        1,
        "{}",
        trail.body
    );
    // Reactivating keeps the links (R7).
    let back = send(
        &app,
        Some(&token),
        Method::POST,
        &format!("/domains/example.org/rows/{row}/activate"),
        None,
        &[],
    )
    .await;
    assert_eq!(back.body["active"], true);
    assert_eq!(back.body["addresses"][0]["link"]["user_id"], "anna");
}

#[tokio::test]
async fn r21_the_row_list_pages_with_a_cursor_through_every_row_once_and_keeps_its_filter() {
    let app = portal().await;
    for i in 0..7 {
        app.example_row(&format!("p{i}@example.org")).await;
    }
    let token = noras_token(&app).await;
    let mut seen = Vec::new();
    let mut next =
        "/domains/example.org/rows?limit=3&search=p&sort=primary_address&order=desc".to_owned();
    loop {
        let page = get(&app, &token, &next).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert_eq!(page.body["total"], 7);
        for r in page.body["rows"].as_array().unwrap() {
            seen.push(r["primary_address"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => next = format!("/domains/example.org/rows?cursor={c}"),
            None => break,
        }
    }
    let want: Vec<String> = (0..7).rev().map(|i| format!("p{i}@example.org")).collect();
    assert_eq!(seen, want);

    // Rows deleted behind the cursor do not end the list early: a script that processes and
    // deletes each page still reaches the last row.
    let mut seen = Vec::new();
    let mut next = "/domains/example.org/rows?limit=3&search=p".to_owned();
    loop {
        let page = get(&app, &token, &next).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for r in page.body["rows"].as_array().unwrap() {
            seen.push(r["primary_address"].as_str().unwrap().to_owned());
        }
        let first = &page.body["rows"][0];
        if let Some(id) = first["id"].as_i64() {
            let tag = format!("\"{}\"", first["version"]);
            let path = format!("/domains/example.org/rows/{id}");
            let gone = send(
                &app,
                Some(&token),
                Method::DELETE,
                &path,
                None,
                &[("if-match", &tag)],
            )
            .await;
            assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => next = format!("/domains/example.org/rows?cursor={c}"),
            None => break,
        }
    }
    seen.sort();
    let want: Vec<String> = (0..7).map(|i| format!("p{i}@example.org")).collect();
    assert_eq!(seen, want);
}

/// A change made to a row of example.org between two pages: the method, the path under
/// `/domains/example.org/rows/` and the body, with the row's version as `If-Match`.
type Change = (Method, String, Option<Value>, i64);

/// The primary addresses of every row `first` lists, page by page, following `next_cursor`;
/// after each page, the change `then` gives for that page's rows is made.
async fn list_pages(
    app: &TestApp,
    token: &str,
    first: &str,
    mut then: impl FnMut(&[Value]) -> Option<Change>,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut next = first.to_owned();
    for _ in 0..50 {
        let page = get(app, token, &next).await;
        assert_eq!(page.status, StatusCode::OK, "{next}: {}", page.body);
        let rows = page.body["rows"].as_array().unwrap();
        for r in rows {
            seen.push(r["primary_address"].as_str().unwrap().to_owned());
        }
        if let Some((method, path, body, version)) = then(rows) {
            let tag = format!("\"{version}\"");
            let path = format!("/domains/example.org/rows/{path}");
            let changed = send(app, Some(token), method, &path, body, &[("if-match", &tag)]).await;
            assert!(changed.status.is_success(), "{path}: {}", changed.body);
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => next = format!("/domains/example.org/rows?cursor={c}"),
            None => return seen,
        }
    }
    panic!("{first}: the cursor never ends");
}

#[tokio::test]
async fn r21_the_row_cursor_goes_on_after_its_row_was_deleted() {
    // A script pages while someone deletes exactly the row its cursor continues after: the next
    // page starts after that row's place all the same, so every row is listed once, in order.
    // Plain, with a search (read from the kept matches), with a sort whose values repeat (every
    // example row's last name is "Example"; the id decides), downwards, and by time of change.
    let mut wrong = Vec::new();
    for (limit, query) in [
        (3, "sort=primary_address"),
        (3, "search=p"),
        (3, "sort=last_name"),
        (3, "sort=last_name&search=p&order=desc"),
        (2, "sort=mailbox_type&order=desc"),
        (3, "sort=updated_at&search=example"),
    ] {
        let app = portal().await;
        for i in 0..8 {
            app.example_row(&format!("p{i}@example.org")).await;
        }
        let token = noras_token(&app).await;
        let rows = format!("/domains/example.org/rows?{query}");
        // The whole list, read before anything is deleted.
        let all = list_pages(&app, &token, &format!("{rows}&limit=200"), |_| None).await;
        assert!(all.len() >= 8, "{query}: {all:?}");
        // Delete the last row of every page right after reading it.
        let seen = list_pages(&app, &token, &format!("{rows}&limit={limit}"), |rows| {
            let last = rows.last()?;
            let id = last["id"].as_i64()?;
            Some((
                Method::DELETE,
                id.to_string(),
                None,
                last["version"].as_i64()?,
            ))
        })
        .await;
        if seen != all {
            wrong.push(format!("{query}: {seen:?}, not {all:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn r21_the_row_cursor_goes_on_where_its_row_was_when_that_row_moved() {
    // Someone renames the row the cursor continues after, so that it sorts last: the next page
    // still starts where the row was (the rows that stayed put are listed once, in order), and
    // the moved row comes again at its new place. Read plainly and from the kept matches.
    for query in ["sort=last_name", "sort=last_name&search=p"] {
        let app = portal().await;
        for i in 0..8 {
            app.example_row(&format!("p{i}@example.org")).await;
        }
        let token = noras_token(&app).await;
        let rows = format!("/domains/example.org/rows?{query}");
        let all = list_pages(&app, &token, &format!("{rows}&limit=200"), |_| None).await;
        let mut moved = None;
        let seen = list_pages(&app, &token, &format!("{rows}&limit=3"), |rows| {
            if moved.is_some() {
                return None;
            }
            let last = rows.last()?;
            moved = Some(last["primary_address"].as_str()?.to_owned());
            let body = json!({"last_name": "Zed"});
            let id = last["id"].as_i64()?;
            Some((
                Method::PUT,
                id.to_string(),
                Some(body),
                last["version"].as_i64()?,
            ))
        })
        .await;
        let moved = moved.unwrap();
        let mut want = all.clone();
        want.push(moved.clone());
        assert_eq!(all[2], moved, "{query}");
        assert_eq!(seen, want, "{query}");
    }
}

#[tokio::test]
async fn r21_a_row_cursor_stays_within_2048_characters_with_the_longest_names_and_search() {
    // Names of 200 four-byte letters and a search as long: the sort values would not fit in a
    // cursor beside the search, so the cursor holds the row's id instead; the list still works.
    let app = portal().await;
    let token = noras_token(&app).await;
    let name = "\u{1D504}".repeat(200);
    for i in 0..3 {
        let body = json!({"primary_address": format!("l{i}@example.org"), "first_name": name, "last_name": name});
        let made = send(
            &app,
            Some(&token),
            Method::POST,
            "/domains/example.org/rows",
            Some(body),
            &[],
        )
        .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    }
    let mut cursors = Vec::new();
    let mut seen = Vec::new();
    let mut next = format!("/domains/example.org/rows?limit=1&sort=last_name&search={name}");
    loop {
        let page = get(&app, &token, &next).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for r in page.body["rows"].as_array().unwrap() {
            seen.push(r["primary_address"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => {
                cursors.push(c.chars().count());
                next = format!("/domains/example.org/rows?cursor={c}");
            }
            None => break,
        }
    }
    assert_eq!(seen, ["l0@example.org", "l1@example.org", "l2@example.org"]);
    assert!(cursors.iter().all(|n| *n <= 2048), "{cursors:?}");
}

#[tokio::test]
async fn r21_a_cursor_whose_sort_values_do_not_fit_its_sort_is_a_400() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    let app = portal().await;
    for i in 0..3 {
        app.example_row(&format!("p{i}@example.org")).await;
    }
    let token = noras_token(&app).await;
    let page = get(
        &app,
        &token,
        "/domains/example.org/rows?limit=1&sort=last_name",
    )
    .await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let json = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).unwrap()).unwrap();
    // The same values under another sort: two names where a time belongs.
    let changed = json.replace("\"LastName\"", "\"Updated\"");
    assert_ne!(changed, json);
    let changed = URL_SAFE_NO_PAD.encode(changed);
    assert_problem(
        &get(
            &app,
            &token,
            &format!("/domains/example.org/rows?cursor={changed}"),
        )
        .await,
        StatusCode::BAD_REQUEST,
    );
    let next = get(
        &app,
        &token,
        &format!("/domains/example.org/rows?cursor={cursor}"),
    )
    .await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
    assert_eq!(next.body["rows"][0]["primary_address"], "p1@example.org");
}

#[tokio::test]
async fn r21_the_openapi_document_is_3_1_generated_from_the_routes_with_bearer_security() {
    let app = portal().await;
    let doc = read(
        app.client()
            .get(format!("{}/api/v1/openapi.json", app.address))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(doc.body["openapi"], "3.1.0");
    assert_eq!(
        doc.body["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for path in [
        "/domains",
        "/domains/{domain}/rows",
        "/domains/{domain}/rows/{id}",
        "/domains/{domain}/rows/by-address/{address}",
        "/domains/{domain}/rows/{id}/deactivate",
        "/domains/{domain}/challenges",
        "/domains/{domain}/certificates",
        "/domains/{domain}/audit",
    ] {
        assert!(
            doc.body["paths"][path].is_object(),
            "{path} is not in the document"
        );
    }
    assert!(doc.body["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn r21_two_tokens_of_one_creator_share_one_rate_limit() {
    let app = spawn_app_with(|c| {
        c.api.rate_limit_per_minute = 1;
        c.api.rate_limit_burst = 2;
    })
    .await;
    // nora's second token does not bring a second allowance: making N tokens would otherwise
    // multiply the limit by N.
    let first = noras_token(&app).await;
    let (_, second) = token_of(
        &app,
        "nora",
        &["nap-example"],
        &["example.org"],
        ApiScope::Read,
        "second",
    )
    .await;
    assert_eq!(get(&app, &first, "/domains").await.status, StatusCode::OK);
    assert_eq!(get(&app, &second, "/domains").await.status, StatusCode::OK);
    for token in [&first, &second] {
        let limited = get(&app, token, "/domains").await;
        assert_problem(&limited, StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(
            limited.body["detail"]
                .as_str()
                .unwrap()
                .contains("all of a person's tokens share one limit"),
            "{}",
            limited.body
        );
    }
    // A token made after the allowance was used up starts with nothing either.
    let (_, third) = token_of(
        &app,
        "nora",
        &["nap-example"],
        &["example.org"],
        ApiScope::Read,
        "third",
    )
    .await;
    assert_problem(
        &get(&app, &third, "/domains").await,
        StatusCode::TOO_MANY_REQUESTS,
    );
}
