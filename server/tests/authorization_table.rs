//! Q1 for the address table, challenges, confirmation and audit: every server function × every role,
//! each case on a fresh portal. Refusals are 401 (anonymous) or 403 (wrong role) and carry no data;
//! a row of another domain asked for by id is 404, as an unknown id is; "allowed" means the role
//! passed the check (the call may still be refused for its content, e.g. an unknown challenge
//! link, but never with 401/403).

mod support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{spawn_app, Role, TestApp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allowed,
    Refused,
    /// Answered, but nothing happens and nothing is told: rows of other domains are refused like
    /// unknown rows, so a NAP learns nothing about other domains.
    Ignored,
    /// 404, as for an id no row has: a row of another domain reads as unknown (Q1).
    Unknown,
}
use Expect::*;

/// Who may: anonymous, user, NAP of another domain, NAP of the domain, operator.
const NAP_ONLY: [Expect; 5] = [Refused, Refused, Refused, Allowed, Refused];
const NAP_AND_OPERATOR: [Expect; 5] = [Refused, Refused, Refused, Allowed, Allowed];
const LOGGED_IN: [Expect; 5] = [Refused, Allowed, Allowed, Allowed, Allowed];
const NAP_ONLY_OTHERS_IGNORED: [Expect; 5] = [Refused, Refused, Ignored, Allowed, Refused];
/// Functions that take a row id: a NAP of another domain is told there is no such row.
const NAP_ONLY_BY_ROW_ID: [Expect; 5] = [Refused, Refused, Unknown, Allowed, Refused];

fn form() -> Value {
    json!({"first_name": "", "last_name": "Changed", "aliases": "", "mailbox_type": "personal", "applicant": "", "comment": ""})
}

/// The request body for a case, given the id and version of a row of example.org.
fn body(path: &str, id: i64, version: i64) -> Value {
    let query = json!({"search": "", "active": null, "mailbox_type": null, "state": null, "sort": "Primary", "descending": false, "page": 0, "page_size": 50});
    match path {
        "/api/rows/list" => json!({"domain": "example.org", "query": query}),
        "/api/rows/create" => {
            json!({"domain": "example.org", "primary": "new.row@example.org", "form": form()})
        }
        "/api/rows/preview_edit" | "/api/rows/edit" => {
            json!({"id": id, "version": version, "form": form()})
        }
        "/api/rows/set_active" => json!({"rows": [[id, version]], "active": false}),
        "/api/rows/delete" => json!({"id": id, "version": version}),
        "/api/challenges/send" => json!({"row_ids": [id]}),
        "/api/challenges/send_unconfirmed" => json!({"domain": "example.org"}),
        "/api/audit/list" => {
            json!({"domain": "example.org", "query": {"row": "", "actor": "", "kind": "", "from": "", "to": ""}})
        }
        "/api/challenge/info" | "/api/challenge/confirm" => {
            json!({"token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
        }
        other => panic!("no body for {other}"),
    }
}

async fn check(app: &TestApp, path: &str, role: Role, expect: Expect, id: i64, version: i64) {
    let resp = app.call_json(role, path, &body(path, id, version)).await;
    let status = resp.status();
    let text = resp.text().await.unwrap();
    match expect {
        Allowed => assert!(
            status != StatusCode::UNAUTHORIZED
                && status != StatusCode::FORBIDDEN
                && !status.is_server_error(),
            "{role:?} {path}: expected allowed, got {status}: {text}"
        ),
        Ignored => {
            assert_eq!(status, StatusCode::OK, "{role:?} {path}: {text}");
            assert!(
                text.contains("\"rows\":0") && text.contains("\"challenges\":0"),
                "{role:?} {path}: {text}"
            );
            assert!(
                !text.contains("@example.org"),
                "{role:?} {path} leaked data: {text}"
            );
        }
        Unknown => {
            assert_eq!(status, StatusCode::NOT_FOUND, "{role:?} {path}: {text}");
            assert!(
                !text.contains("@example.org"),
                "{role:?} {path} leaked data: {text}"
            );
        }
        Refused => {
            let want = if role == Role::Anonymous {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(status, want, "{role:?} {path}: {text}");
            assert!(
                !text.contains("@example.org"),
                "{role:?} {path} leaked data: {text}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q1_table_challenge_and_audit_functions_check_the_role_on_the_server() {
    let cases: [(&str, [Expect; 5]); 11] = [
        ("/api/rows/list", NAP_AND_OPERATOR),
        ("/api/rows/create", NAP_ONLY),
        ("/api/rows/preview_edit", NAP_ONLY_BY_ROW_ID),
        ("/api/rows/edit", NAP_ONLY_BY_ROW_ID),
        ("/api/rows/set_active", NAP_ONLY_BY_ROW_ID),
        ("/api/rows/delete", NAP_ONLY_BY_ROW_ID),
        ("/api/challenges/send", NAP_ONLY_OTHERS_IGNORED),
        ("/api/challenges/send_unconfirmed", NAP_ONLY),
        ("/api/audit/list", NAP_AND_OPERATOR),
        ("/api/challenge/info", LOGGED_IN),
        ("/api/challenge/confirm", LOGGED_IN),
    ];
    for (path, expected) in cases {
        // Refusals first, on a row that then must be unchanged; the allowed roles after.
        let app = spawn_app().await;
        let (id, version) = app.example_row("someone@example.org").await;
        let mut order: Vec<_> = Role::ALL.into_iter().zip(expected).collect();
        order.sort_by_key(|(_, e)| *e == Allowed);
        for (role, expect) in order {
            if expect == Allowed {
                let sent: i64 = backend::run!(app.portal.pool, ex => sqlx::query_scalar("SELECT COUNT(*) FROM challenges")
                    .fetch_one(ex)
                    .await)
                    .unwrap();
                assert_eq!(sent, 0, "{path}: a refused call sent a challenge");
                let nap = app.viewer(Role::Nap).await;
                let row = backend::rows::get_row(&app.portal.pool, &nap, id).await;
                if let Ok(row) = row {
                    assert_eq!(
                        row.last_name, "Example",
                        "{path}: a refused call changed the row"
                    );
                    assert!(row.active, "{path}: a refused call deactivated the row");
                }
            }
            check(&app, path, role, expect, id, version).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r01_a_nap_of_another_domain_learns_nothing_about_this_domains_rows() {
    let app = spawn_app().await;
    app.example_row("secret.person@example.org").await;
    let resp = app
        .call_json(
            Role::NapOfOtherDomain,
            "/api/rows/list",
            &body("/api/rows/list", 0, 0),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(!resp.text().await.unwrap().contains("secret.person"));
    // Their own domain's table works.
    let own = json!({"domain": "example.net", "query": {"search": "", "active": null, "mailbox_type": null, "state": null, "sort": "Primary", "descending": false, "page": 0, "page_size": 50}});
    let resp = app
        .call_json(Role::NapOfOtherDomain, "/api/rows/list", &own)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

/// Q1, issue 16: another domain's row id answered 403 where an unknown id answered 404, so a NAP
/// could map which ids exist elsewhere. Every function that takes a row id now answers both alike,
/// status and body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q1_foreign_row_reads_as_unknown_over_http() {
    let app = spawn_app().await;
    let (id, version) = app.example_row("someone@example.org").await;
    let unknown = id + 1000;
    for path in [
        "/api/rows/preview_edit",
        "/api/rows/edit",
        "/api/rows/set_active",
        "/api/rows/delete",
        "/api/certificates/of_row",
    ] {
        let body_for = |id: i64, version: i64| {
            if path == "/api/certificates/of_row" {
                json!({ "row_id": id })
            } else {
                body(path, id, version)
            }
        };
        let foreign = app
            .call_json(Role::NapOfOtherDomain, path, &body_for(id, version))
            .await;
        let (foreign_status, foreign_text) = (foreign.status(), foreign.text().await.unwrap());
        let none = app
            .call_json(Role::NapOfOtherDomain, path, &body_for(unknown, 1))
            .await;
        let (none_status, none_text) = (none.status(), none.text().await.unwrap());
        assert_eq!(
            foreign_status,
            StatusCode::NOT_FOUND,
            "{path}: {foreign_text}"
        );
        assert_eq!(
            (foreign_status, &foreign_text),
            (none_status, &none_text),
            "{path}"
        );
        // The domain's own NAP is told the truth about the unknown id.
        let nap = app.call_json(Role::Nap, path, &body_for(unknown, 1)).await;
        assert_eq!(nap.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let nap = app.viewer(Role::Nap).await;
    let row = backend::rows::get_row(&app.portal.pool, &nap, id)
        .await
        .unwrap();
    assert_eq!((row.last_name.as_str(), row.active), ("Example", true));
}

/// Issue 16: the CSV download starts with a byte order mark, and a second one suits Excel on a
/// German Windows; an unknown format is a clear 400, and the table's readers only, as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_download_has_a_bom_and_a_german_excel_variant() {
    let app = spawn_app().await;
    app.example_row("joerg@example.org").await;

    let standard = app.get(Role::Nap, "/domains/example.org/csv").await;
    assert_eq!(standard.status(), StatusCode::OK);
    let bytes = standard.bytes().await.unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBFE-Mail,First Name,"),
        "{bytes:?}"
    );

    let german = app
        .get(Role::Nap, "/domains/example.org/csv?format=excel-de")
        .await;
    assert_eq!(german.status(), StatusCode::OK);
    assert!(german.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("example.org-excel-de.csv"));
    let text = german.text().await.unwrap();
    assert!(
        text.starts_with("\u{FEFF}E-Mail-Adresse;Vorname;Nachname;Aliase;Postfachtyp;"),
        "{text}"
    );
    assert!(
        text.contains("joerg@example.org;;Example;;persönlich;;;ja\r\n"),
        "{text}"
    );

    let unknown = app
        .get(Role::Nap, "/domains/example.org/csv?format=xlsx")
        .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        unknown.text().await.unwrap(),
        "Unknown download format; use format=standard or format=excel-de."
    );
    let twice = app
        .get(
            Role::Nap,
            "/domains/example.org/csv?format=excel-de&format=standard",
        )
        .await;
    assert_eq!(twice.status(), StatusCode::BAD_REQUEST);
    let foreign = app
        .get(
            Role::NapOfOtherDomain,
            "/domains/example.org/csv?format=excel-de",
        )
        .await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert!(!foreign.text().await.unwrap().contains("joerg"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r16_the_audit_csv_is_only_for_the_domains_naps() {
    let app = spawn_app().await;
    let nap = app.viewer(Role::Nap).await;
    backend::rows::create_row(
        &app.portal.pool,
        &nap,
        "example.org",
        "formula@example.org",
        &backend::rows::RowInput {
            last_name: "=HYPERLINK(\"http://evil\")".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let ok = app.get(Role::Nap, "/domains/example.org/audit.csv").await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(ok.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = ok.text().await.unwrap();
    assert!(csv.starts_with("time_utc,"), "{csv}");
    assert!(csv.contains("row_created,formula@example.org"), "{csv}");
    for role in [Role::Anonymous, Role::User, Role::NapOfOtherDomain] {
        let resp = app.get(role, "/domains/example.org/audit.csv").await;
        assert!(
            resp.status() == StatusCode::UNAUTHORIZED || resp.status() == StatusCode::FORBIDDEN,
            "{role:?}"
        );
        assert!(!resp.text().await.unwrap().contains("formula@"), "{role:?}");
    }
}
