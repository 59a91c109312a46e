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
    /// Keeps the test's PostgreSQL database (when the suite runs on PostgreSQL) until the end.
    _database: backend::testing::TestDatabase,
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
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] with a configuration `configure` changes first (e.g. a low API rate limit).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    server::telemetry::init();
    let database = backend::testing::test_database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let mut config = Config {
        base_url: address.clone(),
        data_dir: dir.path().to_path_buf(),
        // A new PostgreSQL database when the suite runs on PostgreSQL.
        database: database.setting(),
        ..Config::default()
    };
    configure(&mut config);
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
        _database: database,
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

    /// A row of example.org at `primary`, linked to anna by a confirmed challenge, with a
    /// certificate she requested: `(row id, certificate id, serial)`.
    pub async fn annas_certificate(&self, primary: &str) -> (i64, i64, String) {
        let (row, _) = self.example_row(primary).await;
        // anna exists as a user once she has logged in.
        self.cookie_for(Role::User).await;
        let nap = self.viewer(Role::Nap).await;
        backend::challenges::send_challenges(
            &self.portal.pool,
            &nap,
            &[row],
            &self.portal.config,
            &self.portal.outbox,
        )
        .await
        .unwrap();
        let body = self.challenge_mail_text(primary).await;
        let token = body
            .split("/confirm/")
            .nth(1)
            .unwrap()
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .next()
            .unwrap()
            .to_string();
        backend::challenges::confirm_challenge(
            &self.portal.pool,
            &token,
            "anna",
            backend::clock::now(),
        )
        .await
        .unwrap();
        let anna = self.viewer(Role::User).await;
        let issued = backend::certificates::request_certificate(
            &self.portal,
            &anna,
            backend::certificates::CertificateRequest {
                row_id: row,
                addresses: vec![primary.into()],
                key: backend::certificates::KeyChoice::ServerKey {
                    password: "a long enough password".to_string().into(),
                },
            },
        )
        .await
        .unwrap();
        (row, issued.certificate.id, issued.certificate.serial)
    }

    /// The text of the challenge mail to `recipient`: in the outbox while queued, in the mail
    /// folder once the running portal's worker has delivered it (and cleared the body, which
    /// held the token).
    pub async fn challenge_mail_text(&self, recipient: &str) -> String {
        for _ in 0..100 {
            let queued: Option<Option<String>> =
                backend::run!(self.portal.pool, ex => sqlx::query_scalar("SELECT body_text FROM mail_outbox WHERE recipient = $1")
                    .bind(recipient)
                    .fetch_optional(ex)
                    .await)
                    .unwrap();
            if let Some(Some(text)) = queued {
                return text;
            }
            for entry in std::fs::read_dir(self.dir.path().join("mail"))
                .into_iter()
                .flatten()
            {
                let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
                if text.contains("/confirm/") && text.contains(recipient) {
                    // Quoted-printable soft line breaks would split the link.
                    return text.replace("=\r\n", "").replace("=\n", "");
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no challenge mail to {recipient}");
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

// ------------------------------------------------------------------ captured logs

static LOGS: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> =
    std::sync::OnceLock::new();

/// Keeps everything this test binary logs at `filter` or above, for tests that search the log
/// (Q6: no token in it; Q9: no ERROR line). Call it before the first portal starts: its
/// `telemetry::init` then leaves this subscriber in place. The first call's filter holds for the
/// whole binary; all tests share the log, so each looks for its own request IDs and tokens only.
pub fn capture_logs(filter: &str) {
    LOGS.get_or_init(|| {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = CaptureWriter(buffer.clone());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_target(false)
            .with_writer(move || writer.clone())
            .try_init();
        buffer
    });
}

/// What [`capture_logs`] kept so far.
pub fn captured_logs() -> String {
    let buffer = LOGS.get().expect("capture_logs was called first");
    String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned()
}

#[derive(Clone)]
struct CaptureWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
