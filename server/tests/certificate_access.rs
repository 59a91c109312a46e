//! Q1 and R12/R15 for the certificate functions and files over HTTP: every role against a
//! certificate of anna's on a row of example.org. Refusals carry no data; nobody but the owner and
//! the domain's NAPs (operators: read) gets at it; the CRL and CA certificate are public.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::{spawn_app, Role, TestApp};

async fn is_valid(app: &TestApp, id: i64) -> bool {
    let revoked: i64 =
        backend::run!(app.portal.pool, ex => sqlx::query_scalar("SELECT COUNT(*) FROM revocations WHERE certificate_id = $1")
            .bind(id)
            .fetch_one(ex)
            .await)
            .unwrap();
    revoked == 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q1_r12_certificates_are_seen_by_their_owner_and_the_domains_naps_only() {
    let app = spawn_app().await;
    let (row, id, serial) = app.annas_certificate("anna.cert@example.org").await;

    for role in Role::ALL {
        let mine = app
            .call_json(role, "/api/certificates/mine", &json!({}))
            .await;
        let status = mine.status();
        let text = mine.text().await.unwrap();
        match role {
            Role::Anonymous => assert_eq!(status, StatusCode::UNAUTHORIZED),
            Role::User => assert!(text.contains(&serial), "{text}"),
            _ => {
                assert_eq!(status, StatusCode::OK, "{role:?}");
                assert!(!text.contains(&serial), "{role:?} sees anna's: {text}");
            }
        }

        let of_row = app
            .call_json(role, "/api/certificates/of_row", &json!({ "row_id": row }))
            .await;
        let status = of_row.status();
        let text = of_row.text().await.unwrap();
        match role {
            Role::Nap | Role::Operator => assert!(text.contains(&serial), "{role:?}: {text}"),
            Role::Anonymous => assert_eq!(status, StatusCode::UNAUTHORIZED),
            // No table role at all: refused whatever the id.
            Role::User => {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}: {text}");
                assert!(!text.contains(&serial));
            }
            // Q1: another domain's row reads as an unknown row.
            Role::NapOfOtherDomain => {
                assert_eq!(status, StatusCode::NOT_FOUND, "{role:?}: {text}");
                assert!(!text.contains(&serial));
            }
        }

        let file = app
            .get(role, &format!("/certificates/{id}/download?format=pem"))
            .await;
        let status = file.status();
        let text = file.text().await.unwrap();
        match role {
            Role::User | Role::Nap | Role::Operator => {
                assert_eq!(status, StatusCode::OK, "{role:?}");
                assert!(text.starts_with("-----BEGIN CERTIFICATE-----"), "{text}");
            }
            Role::Anonymous => assert_eq!(status, StatusCode::UNAUTHORIZED),
            Role::NapOfOtherDomain => {
                assert_eq!(status, StatusCode::NOT_FOUND);
                assert!(!text.contains("BEGIN"));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q1_r15_only_the_owner_and_the_naps_of_an_inactive_row_revoke() {
    let app = spawn_app().await;
    let (row, id, _) = app.annas_certificate("anna.cert@example.org").await;
    let reason = json!({ "id": id, "reason": "affiliationChanged" });

    // Nobody but anna revokes through "revoke own"; they learn nothing either.
    for role in [
        Role::Anonymous,
        Role::NapOfOtherDomain,
        Role::Nap,
        Role::Operator,
    ] {
        let resp = app
            .call_json(role, "/api/certificates/revoke_own", &reason)
            .await;
        assert!(
            [StatusCode::UNAUTHORIZED, StatusCode::NOT_FOUND].contains(&resp.status()),
            "{role:?}: {}",
            resp.status()
        );
        assert!(
            is_valid(&app, id).await,
            "{role:?} revoked anna's certificate"
        );
    }
    // The NAP only once the row is inactive; the other roles never.
    for role in [
        Role::Anonymous,
        Role::User,
        Role::NapOfOtherDomain,
        Role::Operator,
        Role::Nap,
    ] {
        let resp = app
            .call_json(role, "/api/certificates/revoke_as_nap", &reason)
            .await;
        assert!(!resp.status().is_success(), "{role:?}");
        assert!(
            is_valid(&app, id).await,
            "{role:?} revoked on an active row"
        );
        let resp = app
            .call_json(
                role,
                "/api/certificates/revoke_rows",
                &json!({ "row_ids": [row], "reason": "affiliationChanged" }),
            )
            .await;
        assert!(!resp.status().is_success(), "{role:?}");
        assert!(
            is_valid(&app, id).await,
            "{role:?} revoked on an active row"
        );
    }
    let nap = app.viewer(Role::Nap).await;
    let version: i64 = backend::run!(app.portal.pool, ex => sqlx::query_scalar("SELECT version FROM mailbox_rows WHERE id = $1")
        .bind(row)
        .fetch_one(ex)
        .await)
        .unwrap();
    backend::rows::set_active(&app.portal.pool, &nap, &[(row, version)], false)
        .await
        .unwrap();
    let resp = app
        .call_json(
            Role::NapOfOtherDomain,
            "/api/certificates/revoke_rows",
            &json!({ "row_ids": [row], "reason": "affiliationChanged" }),
        )
        .await;
    assert!(!resp.status().is_success());
    assert!(is_valid(&app, id).await);
    let resp = app
        .call_json(
            Role::Nap,
            "/api/certificates/revoke_rows",
            &json!({ "row_ids": [row], "reason": "affiliationChanged" }),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), "1");
    assert!(!is_valid(&app, id).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r15_the_crl_and_the_ca_certificate_are_public() {
    let app = spawn_app().await;
    for (path, content_type) in [
        ("/pki/ca.crl", "application/pkix-crl"),
        ("/pki/ca.crt", "application/pkix-cert"),
        ("/pki/ca.crl.pem", "application/x-pem-file"),
        ("/pki/ca.pem", "application/x-pem-file"),
    ] {
        let resp = app.get(Role::Anonymous, path).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(resp.headers()["content-type"], content_type, "{path}");
        let bytes = resp.bytes().await.unwrap();
        assert!(bytes.len() > 100, "{path}");
    }
    let pem = app
        .get(Role::Anonymous, "/pki/ca.crl.pem")
        .await
        .text()
        .await
        .unwrap();
    assert!(pem.starts_with("-----BEGIN X509 CRL-----\n"), "{pem}");
}
