//! Q3 (same-origin writes), Q4 (headers) and Q5 (body limits) against the real portal.

mod support;

use reqwest::StatusCode;
use support::{spawn_app, Role};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q3_a_cross_origin_post_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let cookie = app.cookie_for(Role::Operator).await.unwrap();
    let attempts: [(&str, &str); 4] = [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("x-no-origin", "1"),
    ];
    for (header, value) in attempts {
        let resp = app
            .client()
            .post(format!("{}/api/operator/register_domain", app.address))
            .header("cookie", &cookie)
            .header(header, value)
            .form(&[("name", "evil.example"), ("contact_group", "evil")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{header}: {value}");
        assert!(resp.text().await.unwrap().starts_with("Refused:"));
    }
    let names: Vec<_> = backend::domains::list_domains(&app.portal.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert!(!names.contains(&"evil.example".to_string()));
    // The same request from the portal's own page goes through.
    let ok = app
        .call(
            Role::Operator,
            "/api/operator/register_domain",
            &[("name", "good.example"), ("contact_group", "g")],
        )
        .await;
    assert!(ok.status().is_success(), "{}", ok.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q3_logout_is_a_post_and_get_changes_nothing() {
    let app = spawn_app().await;
    let cookie = app.cookie_for(Role::User).await.unwrap();
    let resp = app
        .client()
        .get(format!("{}/auth/logout", app.address))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let still = app
        .client()
        .post(format!("{}/api/session", app.address))
        .header("origin", &app.address)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = still.json().await.unwrap();
    assert_eq!(body["viewer"]["user_id"], "anna");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q4_pages_and_other_responses_carry_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/", "/login", "/health", "/pkg/missing.js", "/no/such/page"] {
        let resp = app.get(Role::Anonymous, path).await;
        let h = resp.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
    }
    // A page's inline hydration script is allowed only by this response's nonce.
    let page = app.get(Role::Anonymous, "/").await;
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("page CSP has a nonce")
        .to_string();
    assert!(nonce.len() >= 16);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "inline scripts carry the nonce"
    );
    let again = app.get(Role::Anonymous, "/").await;
    assert!(
        !again.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains(&nonce),
        "a fresh nonce per response"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q5_an_oversized_body_is_refused_with_a_clear_message() {
    let app = spawn_app().await;
    let huge = "x".repeat(server::security::MAX_BODY_BYTES + 1);
    let resp = app
        .call(
            Role::Operator,
            "/api/operator/register_domain",
            &[("name", &huge), ("contact_group", "g")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(resp.text().await.unwrap().contains("larger than"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q5_bad_input_gets_a_clear_message_and_changes_nothing() {
    let app = spawn_app().await;
    let resp = app
        .call(
            Role::Operator,
            "/api/operator/register_domain",
            &[("name", "not a domain"), ("contact_group", "g")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = resp.text().await.unwrap();
    assert!(body.contains("not a domain"), "names the input: {body}");
    assert_eq!(
        backend::domains::list_domains(&app.portal.pool)
            .await
            .unwrap()
            .len(),
        2
    );
}
