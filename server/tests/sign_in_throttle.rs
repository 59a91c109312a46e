//! SPEC Q7 over HTTP: a throttled sign-in form post is answered 429 with `Retry-After` and a page
//! that says when to try again; the client is the peer (a forged `X-Forwarded-For` counts for
//! nothing unless its sender is a configured trusted proxy); the attempts are sign-in events.

use backend::accounts::{create_account, NewAccount};
use backend::config::Config;
use backend::secret::SecretString;
use backend::sign_in::SignInConfig;
use backend::storage::sign_in_events::list_sign_in_events;
use backend::Portal;
use server::startup::Application;

const PASSWORD: &str = "nora's long password";

/// The real portal on port 0 with `nora` as a local account and the given sign-in settings.
async fn portal_with(
    sign_in: SignInConfig,
    trusted_proxies: Vec<std::net::IpAddr>,
) -> (String, Portal, tempfile::TempDir) {
    server::telemetry::init();
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let config = Config {
        base_url: address.clone(),
        data_dir: dir.path().to_path_buf(),
        sign_in,
        trusted_proxies,
        ..Config::default()
    };
    let portal = Portal::open(config).await.unwrap();
    create_account(
        &portal.pool,
        NewAccount {
            id: "nora".into(),
            given_name: "Nora".into(),
            family_name: "Nap".into(),
            email: None,
            groups: vec![],
            password: SecretString::from(PASSWORD),
        },
        "cli:root",
    )
    .await
    .unwrap();
    let app = Application::with_listener(portal.clone(), listener).unwrap();
    tokio::spawn(app.run_until_stopped());
    (address, portal, dir)
}

async fn post_login(
    address: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = client
        .post(format!("{address}/auth/login"))
        .header("origin", address)
        .form(&[
            ("username", "nora"),
            ("password", password),
            ("return_to", "/"),
        ]);
    if let Some(xff) = forwarded_for {
        request = request.header("x-forwarded-for", xff);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn q7_a_throttled_sign_in_gets_429_with_retry_after_and_says_when() {
    // An hour's first wait: the test never races the clock.
    let (address, portal, _dir) = portal_with(
        SignInConfig {
            client_free_failures: 2,
            first_delay_secs: 3600,
            client_max_delay_secs: 7200,
            ..SignInConfig::default()
        },
        vec![],
    )
    .await;
    for _ in 0..2 {
        // A forged header from an untrusted peer changes nothing: these count for 127.0.0.1.
        let r = post_login(&address, "wrong password!", Some("203.0.113.9")).await;
        assert_eq!(r.status(), 303);
        assert!(r.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error=invalid"));
    }
    // Throttled: even the right password, and from a "different" forwarded address.
    let r = post_login(&address, PASSWORD, Some("198.51.100.7")).await;
    assert_eq!(r.status(), 429);
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3590..=3600).contains(&retry_after), "{retry_after}");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = r.text().await.unwrap();
    assert!(
        page.contains(&format!("Try again in {retry_after} seconds")),
        "{page}"
    );
    assert!(page.contains("was not checked"), "{page}");
    assert!(!page.contains(PASSWORD));

    let mut conn = portal.pool.acquire().await.unwrap();
    let events = list_sign_in_events(&mut conn, Some("nora"), 10)
        .await
        .unwrap();
    let seen: Vec<(&str, &str)> = events
        .iter()
        .rev()
        .map(|e| (e.outcome.as_str(), e.client.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("failure", "127.0.0.1"),
            ("failure", "127.0.0.1"),
            ("throttled", "127.0.0.1")
        ]
    );
}

#[tokio::test]
async fn q7_behind_a_trusted_proxy_each_forwarded_client_is_throttled_on_its_own() {
    let (address, portal, _dir) = portal_with(
        SignInConfig {
            client_free_failures: 1,
            account_free_failures: 100,
            first_delay_secs: 3600,
            ..SignInConfig::default()
        },
        vec!["127.0.0.1".parse().unwrap()],
    )
    .await;
    let r = post_login(&address, "wrong password!", Some("203.0.113.9")).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        post_login(&address, PASSWORD, Some("203.0.113.9"))
            .await
            .status(),
        429
    );
    // Another client behind the same proxy signs in.
    let r = post_login(&address, PASSWORD, Some("198.51.100.7")).await;
    assert_eq!(r.status(), 303);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .starts_with("ra_session="));

    let mut conn = portal.pool.acquire().await.unwrap();
    let events = list_sign_in_events(&mut conn, None, 10).await.unwrap();
    let seen: Vec<(&str, &str)> = events
        .iter()
        .rev()
        .map(|e| (e.outcome.as_str(), e.client.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("failure", "203.0.113.9"),
            ("throttled", "203.0.113.9"),
            ("success", "198.51.100.7")
        ]
    );
}
