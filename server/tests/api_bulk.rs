//! The REST API's bulk endpoint (SPEC R21, R8): `POST /api/v1/domains/{domain}/bulk` with a CSV
//! file or a JSON array, `?dry_run=true` for the preview, `Idempotency-Key` for a retry that
//! applies once. Against the real app on port 0 with its own SQLite file, tokens made by the
//! service the UI and the CLI use.

mod support;

use backend::api_tokens::{create_token, TokenRequest};
use domain::api_token::ApiScope;
use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};
use support::{spawn_app, Role, TestApp};

const CSV: &str = "E-Mail,First Name,Last Name,Aliases\r\n\
                   ada@example.org,Ada,Lovelace,ada.l@example.org\r\n\
                   alan@example.org,Alan,Turing,\r\n";

async fn token(app: &TestApp, scope: ApiScope) -> String {
    let name = match scope {
        ApiScope::Read => "reader",
        ApiScope::ReadWrite => "idm",
    };
    named_token(app, scope, name).await
}

async fn named_token(app: &TestApp, scope: ApiScope, name: &str) -> String {
    // A sign-in records nora's groups, from which each request works out the token's reach (R21).
    app.cookie_for(Role::Nap).await;
    let nap = app.viewer(Role::Nap).await;
    let domain = nap
        .nap_domains
        .iter()
        .find(|d| d.name == "example.org")
        .expect("nora administers example.org")
        .id;
    let made = create_token(
        &app.portal,
        &nap,
        &TokenRequest {
            name,
            domain_ids: &[domain],
            scope,
            days: 30,
        },
        &nap.user.user_id,
        backend::clock::now(),
    )
    .await
    .expect("token made");
    made.expose().to_string()
}

async fn bulk(
    app: &TestApp,
    token: &str,
    query: &str,
    content_type: &str,
    key: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut request = app
        .client()
        .post(format!(
            "{}/api/v1/domains/example.org/bulk{query}",
            app.address
        ))
        .bearer_auth(token)
        .header(CONTENT_TYPE, content_type)
        .body(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.expect("request sent")
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    backend::run!(app.portal.pool, ex => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(ex)
        .await)
    .unwrap()
}

async fn rows(app: &TestApp) -> i64 {
    count(app, "SELECT COUNT(*) FROM mailbox_rows").await
}

async fn audit_records(app: &TestApp) -> i64 {
    count(app, "SELECT COUNT(*) FROM audit_records").await
}

async fn csv_applies(app: &TestApp) -> i64 {
    count(
        app,
        "SELECT COUNT(*) FROM audit_records WHERE kind = 'csv_applied'",
    )
    .await
}

#[tokio::test]
async fn r21_bulk_dry_run_previews_what_applying_would_do_and_changes_nothing() {
    let app = spawn_app().await;
    let token = token(&app, ApiScope::ReadWrite).await;
    let (rows_before, audit_before) = (rows(&app).await, audit_records(&app).await);

    let response = bulk(&app, &token, "?dry_run=true", "text/csv", None, CSV).await;
    assert_eq!(response.status(), 200);
    let preview: Value = response.json().await.unwrap();
    assert_eq!(preview["new"], 2, "{preview}");
    assert_eq!(preview["changed"], 0);
    assert_eq!(preview["domain"], "example.org");
    assert_eq!(preview["lines"][0]["primary_address"], "ada@example.org");
    assert_eq!(preview["lines"][0]["line"], 2);
    assert_eq!(preview["lines"][0]["status"], "new");

    assert_eq!(rows(&app).await, rows_before);
    assert_eq!(audit_records(&app).await, audit_before);
}

#[tokio::test]
async fn r21_the_same_idempotency_key_and_body_give_the_same_answer_and_apply_once() {
    let app = spawn_app().await;
    let token = token(&app, ApiScope::ReadWrite).await;

    let first = bulk(&app, &token, "", "text/csv", Some("\"key-1\""), CSV).await;
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("idempotency-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["created"], 2, "{first}");
    let audit_after_first = audit_records(&app).await;

    let again = bulk(&app, &token, "", "text/csv", Some("\"key-1\""), CSV).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotency-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first, "a replay answers the first answer");
    assert_eq!(rows(&app).await, 2);
    assert_eq!(csv_applies(&app).await, 1);
    assert_eq!(audit_records(&app).await, audit_after_first);

    // Two requests with a new key at the same moment: one applies, the other waits for its
    // transaction and answers its answer.
    let changed = CSV.replace("Lovelace", "King");
    let (a, b) = tokio::join!(
        bulk(
            &app,
            &token,
            "",
            "text/csv",
            Some("\"key-2\""),
            changed.clone()
        ),
        bulk(
            &app,
            &token,
            "",
            "text/csv",
            Some("\"key-2\""),
            changed.clone()
        ),
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let replayed = [&a, &b]
        .iter()
        .filter(|r| r.headers().get("idempotency-replayed").is_some())
        .count();
    assert_eq!(replayed, 1, "exactly one of the two applied");
    let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(a, b);
    assert_eq!(a["changed"], 1, "{a}");
    assert_eq!(csv_applies(&app).await, 2);
    let edits = count(
        &app,
        "SELECT COUNT(*) FROM audit_records WHERE kind = 'row_edited'",
    )
    .await;
    assert_eq!(edits, 1, "the last name changed once");

    // The audit trail names the token as the actor (R21).
    let actor: String = backend::run!(app.portal.pool, ex => sqlx::query_scalar(
        "SELECT actor FROM audit_records WHERE kind = 'csv_applied' ORDER BY id LIMIT 1",
    )
    .fetch_one(ex)
    .await)
    .unwrap();
    assert!(actor.starts_with("api:idm#"), "{actor}");

    // Keys are per token: another token's request under the same key is its own.
    let other_token = named_token(&app, ApiScope::ReadWrite, "sync").await;
    let third = CSV.replace("Lovelace", "Byron");
    let own = bulk(&app, &other_token, "", "text/csv", Some("\"key-1\""), third).await;
    assert_eq!(own.status(), 200);
    assert!(own.headers().get("idempotency-replayed").is_none());
    let own: Value = own.json().await.unwrap();
    assert_eq!(own["changed"], 1, "{own}");
    assert_eq!(csv_applies(&app).await, 3);
}

#[tokio::test]
async fn r21_the_same_idempotency_key_with_another_body_is_422_and_applies_nothing() {
    let app = spawn_app().await;
    let token = token(&app, ApiScope::ReadWrite).await;
    let first = bulk(&app, &token, "", "text/csv", Some("\"k\""), CSV).await;
    assert_eq!(first.status(), 200);
    let audit = audit_records(&app).await;

    let other = CSV.replace("Alan", "Alonzo");
    let refused = bulk(&app, &token, "", "text/csv", Some("\"k\""), other).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(refused.headers()[CONTENT_TYPE], "application/problem+json");
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(
        problem["errors"][0]["field"], "Idempotency-Key",
        "{problem}"
    );
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("used before with another request"));
    assert_eq!(audit_records(&app).await, audit);
    let first_name: String = backend::run!(app.portal.pool, ex => sqlx::query_scalar(
        "SELECT first_name FROM mailbox_rows WHERE primary_address = 'alan@example.org'",
    )
    .fetch_one(ex)
    .await)
    .unwrap();
    assert_eq!(first_name, "Alan");

    // A malformed key is a 400 that says what to send; nothing is applied either.
    let bad = bulk(&app, &token, "", "text/csv", Some("\"open"), CSV).await;
    assert_eq!(bad.status(), 400);
    let problem: Value = bad.json().await.unwrap();
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("Idempotency-Key"));
    assert_eq!(audit_records(&app).await, audit);
}

#[tokio::test]
async fn r21_a_csv_error_names_its_line_and_column_and_changes_nothing() {
    let app = spawn_app().await;
    let token = token(&app, ApiScope::ReadWrite).await;
    let broken = "E-Mail,First Name,Last Name,Aliases\r\n\
                  ada@example.org,Ada,Lovelace,\r\n\
                  alan@example.org,Alan,Turing,not-an-address\r\n";
    let (rows_before, audit_before) = (rows(&app).await, audit_records(&app).await);

    for query in ["", "?dry_run=true"] {
        let response = bulk(&app, &token, query, "text/csv", Some("\"e\""), broken).await;
        assert_eq!(response.status(), 422, "{query}");
        let problem: Value = response.json().await.unwrap();
        let errors = problem["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{problem}");
        assert_eq!(errors[0]["line"], 3);
        assert_eq!(errors[0]["column"], 4);
        assert_eq!(errors[0]["field"], "Aliases");
        assert!(
            errors[0]["message"]
                .as_str()
                .unwrap()
                .contains("not-an-address"),
            "{problem}"
        );
    }
    assert_eq!(rows(&app).await, rows_before);
    assert_eq!(audit_records(&app).await, audit_before);

    // The key of a refused apply was not used up: the corrected file applies under it.
    let fixed = broken.replace("not-an-address", "");
    let applied = bulk(&app, &token, "", "text/csv", Some("\"e\""), fixed).await;
    assert_eq!(applied.status(), 200);
    assert_eq!(rows(&app).await, rows_before + 2);
}

#[tokio::test]
async fn r21_a_json_array_of_rows_takes_the_uploads_path() {
    let app = spawn_app().await;
    let token = token(&app, ApiScope::ReadWrite).await;
    let body = json!([
        {"primary_address": "ada@example.org", "first_name": "Ada", "last_name": "Lovelace",
         "aliases": ["ada.l@example.org"], "mailbox_type": "personal", "applicant_address": null,
         "active": true},
        {"primary_address": "team@example.org", "first_name": "", "last_name": "Team",
         "aliases": [], "mailbox_type": "functional", "applicant_address": "ada@example.org",
         "active": false}
    ])
    .to_string();

    let preview = bulk(
        &app,
        &token,
        "?dry_run=true",
        "application/json",
        None,
        body.clone(),
    )
    .await;
    assert_eq!(preview.status(), 200);
    let preview: Value = preview.json().await.unwrap();
    assert_eq!(preview["new"], 2, "{preview}");
    assert_eq!(
        preview["lines"][1]["line"], 2,
        "JSON lines are the elements, from 1"
    );
    assert_eq!(rows(&app).await, 0);

    let applied = bulk(&app, &token, "", "application/json", Some("\"j\""), body).await;
    assert_eq!(applied.status(), 200);
    let report: Value = applied.json().await.unwrap();
    assert_eq!(report["created"], 2, "{report}");
    let (kind, active): (String, bool) = backend::run!(app.portal.pool, ex => sqlx::query_as(
        "SELECT mailbox_type, active FROM mailbox_rows WHERE primary_address = 'team@example.org'",
    )
    .fetch_one(ex)
    .await)
    .unwrap();
    assert_eq!((kind.as_str(), active), ("functional", false));
    let aliases = count(
        &app,
        "SELECT COUNT(*) FROM addresses WHERE address = 'ada.l@example.org'",
    )
    .await;
    assert_eq!(aliases, 1);

    // Sparse objects would clear what they leave out: refused at the element and field, and a
    // field no element names is kept (here: the comment set before).
    backend::run!(app.portal.pool, ex => sqlx::query(
        "UPDATE mailbox_rows SET comment = 'kept' WHERE primary_address = 'ada@example.org'",
    )
    .execute(ex)
    .await.map(backend::storage::engine::Done::from))
    .unwrap();
    let audit = audit_records(&app).await;
    let sparse = json!([
        {"primary_address": "ada@example.org", "last_name": "King", "aliases": []},
        {"primary_address": "team@example.org", "last_name": "Team 2"}
    ])
    .to_string();
    let refused = bulk(&app, &token, "", "application/json", None, sparse).await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["errors"][0]["line"], 2, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "aliases");
    assert_eq!(audit_records(&app).await, audit);
    let same_fields = json!([
        {"primary_address": "ada@example.org", "last_name": "King"},
        {"primary_address": "team@example.org", "last_name": "Team 2"}
    ])
    .to_string();
    let applied = bulk(&app, &token, "", "application/json", None, same_fields).await;
    assert_eq!(applied.status(), 200);
    let (last, comment): (String, String) = backend::run!(app.portal.pool, ex => sqlx::query_as(
        "SELECT last_name, comment FROM mailbox_rows WHERE primary_address = 'ada@example.org'",
    )
    .fetch_one(ex)
    .await)
    .unwrap();
    assert_eq!((last.as_str(), comment.as_str()), ("King", "kept"));

    // An element's rule error is at its element (line = index + 1) and field.
    let audit = audit_records(&app).await;
    let broken = json!([
        {"primary_address": "bob@example.org", "aliases": []},
        {"primary_address": "eve@example.org", "aliases": ["eve@elsewhere.example"]}
    ])
    .to_string();
    let refused = bulk(&app, &token, "", "application/json", None, broken).await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["errors"][0]["line"], 2, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "aliases");
    assert!(problem["errors"][0].get("column").is_none());
    assert_eq!(audit_records(&app).await, audit);

    // Fields a row does not have, or of the wrong type, are named before any rule.
    let odd =
        json!([{"primary_address": "x@example.org", "nick": "x", "active": "yes"}]).to_string();
    let refused = bulk(&app, &token, "", "application/json", None, odd).await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.unwrap();
    let mut fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, vec!["active", "nick"], "{problem}");
    assert_eq!(audit_records(&app).await, audit);
}

#[tokio::test]
async fn r21_a_read_only_token_may_preview_but_not_apply() {
    let app = spawn_app().await;
    let token = token(&app, ApiScope::Read).await;
    let preview = bulk(&app, &token, "?dry_run=true", "text/csv", None, CSV).await;
    assert_eq!(preview.status(), 200);
    let refused = bulk(&app, &token, "", "text/csv", Some("\"r\""), CSV).await;
    assert_eq!(refused.status(), 403);
    // Refused before its body is looked at: another media type changes nothing about that.
    let refused = bulk(&app, &token, "", "text/plain", Some("\"r\""), CSV).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(rows(&app).await, 0);

    // Another media type is a 415 naming the two it takes.
    let writer = self::token(&app, ApiScope::ReadWrite).await;
    let refused = bulk(&app, &writer, "", "text/plain", None, CSV).await;
    assert_eq!(refused.status(), 415);
    let problem: Value = refused.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("text/csv"));
}

#[tokio::test]
async fn r21_an_idempotency_key_expires_after_24_hours_and_is_cleaned_up() {
    let app = spawn_app().await;
    let token = token(&app, ApiScope::ReadWrite).await;
    let first = bulk(&app, &token, "", "text/csv", Some("\"daily\""), CSV).await;
    assert_eq!(first.status(), 200);
    let (created, expires): (i64, i64) =
        backend::run!(app.portal.pool, ex => sqlx::query_as("SELECT created_at, expires_at FROM api_idempotency_keys")
            .fetch_one(ex)
            .await)
            .unwrap();
    assert_eq!(expires - created, 24 * 60 * 60);

    // A day later (the record's times moved back a day): the key is free again, so another
    // request under it applies, and the old record is gone.
    backend::run!(app.portal.pool, ex => sqlx::query(
        "UPDATE api_idempotency_keys SET created_at = created_at - 86400, \
         expires_at = expires_at - 86400",
    )
    .execute(ex)
    .await.map(backend::storage::engine::Done::from))
    .unwrap();
    let next_day = CSV.replace("Turing", "Hopper");
    let again = bulk(&app, &token, "", "text/csv", Some("\"daily\""), next_day).await;
    assert_eq!(again.status(), 200);
    assert!(again.headers().get("idempotency-replayed").is_none());
    let report: Value = again.json().await.unwrap();
    assert_eq!(report["changed"], 1, "{report}");
    let keys = count(&app, "SELECT COUNT(*) FROM api_idempotency_keys").await;
    assert_eq!(keys, 1, "the expired record was deleted, the new one kept");
    let fresh = count(
        &app,
        &format!(
            "SELECT COUNT(*) FROM api_idempotency_keys WHERE expires_at > {}",
            backend::clock::now()
        ),
    )
    .await;
    assert_eq!(fresh, 1);
}

#[tokio::test]
async fn r21_r16_the_audit_trail_pages_through_a_bulk_applys_records_of_one_second_each_once() {
    let app = spawn_app().await;
    let token = token(&app, ApiScope::ReadWrite).await;
    let mut csv = String::from("E-Mail,First Name,Last Name\r\n");
    for n in 0..300 {
        csv.push_str(&format!("p{n:03}@example.org,P,Number {n}\r\n"));
    }
    let applied = bulk(&app, &token, "", "text/csv", None, csv).await;
    assert_eq!(applied.status(), 200);

    let audit = |query: String| {
        let request = app
            .client()
            .get(format!(
                "{}/api/v1/domains/example.org/audit?{query}",
                app.address
            ))
            .bearer_auth(&token);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let whole = audit("kind=row_created&limit=1000".into()).await;
    let whole = whole["records"].as_array().unwrap().clone();
    assert_eq!(whole.len(), 300);
    // The apply wrote them all with one time: time alone cannot say where a page ended.
    assert!(whole.iter().all(|r| r["at"] == whole[0]["at"]));

    let mut paged = Vec::new();
    let mut query = "kind=row_created&limit=7".to_string();
    loop {
        let page = audit(query).await;
        let records = page["records"].as_array().unwrap();
        assert!(records.len() <= 7);
        paged.extend(records.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=7&cursor={cursor}"),
            None => break,
        }
        assert!(paged.len() <= 300, "paging does not end");
    }
    assert_eq!(paged, whole, "every record once, newest first");
}
