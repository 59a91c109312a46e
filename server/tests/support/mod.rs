//! Starts the real portal on port 0 with its own SQLite file, like `main` does (zero2prod's
//! `spawn_app`), and makes sessions for the roles of SPEC §1.

#![allow(dead_code)] // each test file uses a different part

use backend::config::Config;
use backend::identity::{Identity, IdentitySource};
use backend::Portal;
use server::startup::Application;
use tempfile::TempDir;

/// A running portal for one test.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    /// The portal's parts, for arranging data directly.
    pub portal: Portal,
    /// Keeps the data folder alive.
    pub dir: TempDir,
}

/// The roles of SPEC §1, as logged-in test users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Not logged in.
    Anonymous,
    /// Logged in, no groups.
    User,
    /// NAP of example.net only.
    NapOfOtherDomain,
    /// NAP of example.org.
    Nap,
    /// Member of the operator group.
    Operator,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Anonymous,
        Role::User,
        Role::NapOfOtherDomain,
        Role::Nap,
        Role::Operator,
    ];
}

pub async fn spawn_app() -> TestApp {
    server::telemetry::init();
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let config = Config {
        base_url: address.clone(),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let portal = Portal::open(config).await.expect("open portal");
    let app = Application::with_listener(portal.clone(), listener).expect("build app");
    tokio::spawn(app.run_until_stopped());
    backend::domains::register_domain(&portal.pool, "test", "example.org", "nap-example")
        .await
        .unwrap();
    backend::domains::register_domain(&portal.pool, "test", "example.net", "nap-other")
        .await
        .unwrap();
    TestApp {
        address,
        portal,
        dir,
    }
}

impl TestApp {
    /// A client that keeps no cookies of its own and never follows redirects.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// A session cookie header value for `role` (None for anonymous).
    pub async fn cookie_for(&self, role: Role) -> Option<String> {
        let (id, groups): (&str, Vec<&str>) = match role {
            Role::Anonymous => return None,
            Role::User => ("anna", vec![]),
            Role::NapOfOtherDomain => ("otto", vec!["nap-other"]),
            Role::Nap => ("nora", vec!["nap-example", "staff"]),
            Role::Operator => ("olga", vec!["ra-operators"]),
        };
        let identity = Identity {
            user_id: id.into(),
            given_name: "Test".into(),
            family_name: id.into(),
            email: None,
            groups: groups.into_iter().map(String::from).collect(),
            source: IdentitySource::Oidc,
        };
        let token = backend::sessions::start_session(
            &self.portal.pool,
            &identity,
            backend::clock::now(),
            &self.portal.config.session,
        )
        .await
        .unwrap();
        Some(format!("ra_session={}", token.expose_cookie_value()))
    }

    /// POSTs a form to a server function as the portal's own page would (same origin).
    pub async fn call(&self, role: Role, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self
            .client()
            .post(format!("{}{path}", self.address))
            .header("origin", &self.address)
            .form(form);
        if let Some(c) = self.cookie_for(role).await {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }

    /// POSTs JSON to a server function as the portal's own page would (same origin).
    pub async fn call_json(
        &self,
        role: Role,
        path: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        let mut req = self
            .client()
            .post(format!("{}{path}", self.address))
            .header("origin", &self.address)
            .json(body);
        if let Some(c) = self.cookie_for(role).await {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }

    /// The viewer of `role` as the services see it (for arranging data through the services).
    pub async fn viewer(&self, role: Role) -> backend::roles::Viewer {
        let (id, groups): (&str, Vec<&str>) = match role {
            Role::Nap => ("nora", vec!["nap-example"]),
            Role::NapOfOtherDomain => ("otto", vec!["nap-other"]),
            Role::Operator => ("olga", vec!["ra-operators"]),
            _ => ("anna", vec![]),
        };
        let user = backend::sessions::SessionUser {
            user_id: id.into(),
            given_name: "Test".into(),
            family_name: id.into(),
            email: None,
            groups: groups.into_iter().map(String::from).collect(),
            session_started_at: 0,
        };
        backend::roles::Viewer::load(&self.portal.pool, user, &self.portal.config)
            .await
            .unwrap()
    }

    /// A row of example.org made by its NAP: `(id, version)`.
    pub async fn example_row(&self, primary: &str) -> (i64, i64) {
        let nap = self.viewer(Role::Nap).await;
        let row = backend::rows::create_row(
            &self.portal.pool,
            &nap,
            "example.org",
            primary,
            &backend::rows::RowInput {
                last_name: "Example".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        (row.id, row.version)
    }

    /// GETs a page as `role`.
    pub async fn get(&self, role: Role, path: &str) -> reqwest::Response {
        let mut req = self.client().get(format!("{}{path}", self.address));
        if let Some(c) = self.cookie_for(role).await {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }
}
