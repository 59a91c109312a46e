//! Operations: `/health`, `/metrics`, request IDs and per-request logs, graceful shutdown — against
//! the real app on port 0 (and the real binary for the shutdown).

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{captured_logs, spawn_app, Role, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// ------------------------------------------------------------------ captured logs

/// This binary's log, kept from its first portal on (support::capture_logs).
fn logs() {
    support::capture_logs("info");
}

async fn app() -> TestApp {
    logs();
    spawn_app().await
}

// ------------------------------------------------------------------ helpers

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client()
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap()
}

async fn health(app: &TestApp) -> (u16, Value) {
    let response = get(app, "/health").await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON health report"))
}

async fn metrics(app: &TestApp) -> String {
    let response = get(app, "/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    response.text().await.unwrap()
}

/// The value of the sample `series` (name with labels, exactly as exposed), if present.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().unwrap())
    })
}

/// Waits (up to 30 s) until `done` holds.
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < Duration::from_secs(30), "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ------------------------------------------------------------------ /health

#[tokio::test]
async fn health_reports_the_database_and_the_outbox_worker() {
    let app = app().await;

    let (status, report) = health(&app).await;

    assert_eq!(status, 200, "{report}");
    assert_eq!(report["status"], "ok");
    assert_eq!(report["database"], "ok");
    assert_eq!(report["outbox_worker"], "ok");
    assert!(report["outbox_worker_silent_secs"].as_i64().unwrap() <= 5);
}

#[tokio::test]
async fn health_is_503_naming_the_outbox_worker_when_it_has_been_silent_too_long() {
    let app = app().await;
    let heartbeat = app.portal.outbox_heartbeat.clone();
    // The worker has started and beaten; it sleeps now until woken or for its 5 s poll.
    eventually("the worker beats", || {
        let heartbeat = heartbeat.clone();
        async move { heartbeat.silent_for(backend::clock::now()) <= 1 }
    })
    .await;

    // Its last sign of life an hour ago. (Should its poll interval end in between, the beat
    // would make this 200: try again then.)
    let mut answer = (0, Value::Null);
    for _ in 0..3 {
        heartbeat.beat(backend::clock::now() - 3600);
        answer = health(&app).await;
        if answer.0 == 503 {
            break;
        }
    }

    let (status, report) = answer;
    assert_eq!(status, 503, "{report}");
    assert_eq!(report["status"], "unavailable");
    assert_eq!(report["outbox_worker"], "stalled");
    assert_eq!(report["database"], "ok");
    assert!(report["outbox_worker_silent_secs"].as_i64().unwrap() >= 3600);

    // The worker really is what beats: woken, it is healthy again.
    app.portal.outbox.notify_one();
    eventually("healthy after the worker ran", || async {
        health(&app).await.0 == 200
    })
    .await;
}

#[tokio::test]
async fn health_is_503_naming_the_database_when_it_is_gone() {
    let app = app().await;
    assert_eq!(health(&app).await.0, 200);

    app.portal.pool.close().await;

    let (status, report) = health(&app).await;
    assert_eq!(status, 503, "{report}");
    assert_eq!(report["status"], "unavailable");
    assert_eq!(report["database"], "unreachable");
    assert_eq!(report["outbox_worker"], "ok");
}

// ------------------------------------------------------------------ /metrics

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_read_the_portal_from_the_database() {
    let app = app().await;
    // Arrange: the NAP adds a row and sends its challenge — one mail, delivered into the folder.
    // (Each call logs in anew: two sessions.)
    let row = app
        .call_json(
            Role::Nap,
            "/api/rows/create",
            &json!({"domain": "example.org", "primary": "anna@example.org", "form": {
                "first_name": "Anna", "last_name": "Schmidt", "aliases": "",
                "mailbox_type": "personal", "applicant": "", "comment": ""}}),
        )
        .await;
    assert!(row.status().is_success(), "{}", row.text().await.unwrap());
    let id = row.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let sent = app
        .call_json(Role::Nap, "/api/challenges/send", &json!({"row_ids": [id]}))
        .await;
    assert!(sent.status().is_success());
    eventually("the challenge mail is sent", || async {
        sample(&metrics(&app).await, "ra_portal_mails_sent_total") == Some(1.0)
    })
    .await;
    get(&app, "/no/such/page").await;

    let m = metrics(&app).await;

    for (series, value) in [
        ("ra_portal_database_up", 1.0),
        ("ra_portal_outbox_queued_mails", 0.0),
        ("ra_portal_mails_sent_total", 1.0),
        ("ra_portal_mails_failed_total", 0.0),
        ("ra_portal_certificates_issued_total", 0.0),
        ("ra_portal_certificates_revoked_total", 0.0),
        ("ra_portal_sessions_active", 2.0),
        (
            r#"ra_portal_http_requests_total{method="POST",route="/api/rows/create",status="2xx"}"#,
            1.0,
        ),
        (
            r#"ra_portal_http_requests_total{method="POST",route="/api/challenges/send",status="2xx"}"#,
            1.0,
        ),
        (
            r#"ra_portal_http_request_duration_seconds_count{method="POST",route="/api/rows/create",status="2xx"}"#,
            1.0,
        ),
        (
            r#"ra_portal_http_requests_total{method="GET",route="unmatched",status="4xx"}"#,
            1.0,
        ),
        (
            &format!(
                "ra_portal_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            ),
            1.0,
        ),
    ] {
        assert_eq!(sample(&m, series), Some(value), "{series} in\n{m}");
    }
    let heartbeat = sample(&m, "ra_portal_outbox_worker_heartbeat_timestamp_seconds").unwrap();
    assert!((backend::clock::now() as f64 - heartbeat).abs() < 60.0);
    assert!(
        m.contains(r#"ra_portal_http_request_duration_seconds_bucket{method="POST",route="/api/rows/create",status="2xx",le="+Inf"} 1"#),
        "{m}"
    );
    // Every sample line is `name{labels} value` or `name value`, each series announced by TYPE.
    for line in m.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let name = series.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|f| m.contains(&format!("# TYPE {f} histogram")))
            .unwrap_or(name);
        assert!(
            m.contains(&format!("# TYPE {family} ")),
            "no TYPE for {line}"
        );
    }
}

#[tokio::test]
async fn q6_a_confirmation_link_shows_as_its_route_template_never_with_its_token() {
    let app = app().await;
    let token = "Q6tokenMustNotLeak0123456789abcdefXYZ";

    let page = get(&app, &format!("/confirm/{token}")).await;
    let request_id = page.headers()["x-request-id"].to_str().unwrap().to_owned();
    page.text().await.unwrap();
    let m = metrics(&app).await;

    assert!(!m.contains(token), "{m}");
    assert!(
        m.contains(
            r#"ra_portal_http_requests_total{method="GET",route="/confirm/{token}",status="#
        ),
        "{m}"
    );
    // The response line of that request names the template and its ID, not the path.
    let logs = captured_logs();
    assert!(!logs.contains(token), "the token is in the logs");
    let line = logs
        .lines()
        .find(|l| l.contains(&request_id) && l.contains("finished processing request"))
        .unwrap_or_else(|| panic!("no response line for {request_id} in\n{logs}"));
    assert!(line.contains("route=/confirm/{token}"), "{line}");
    assert!(line.contains("method=GET"), "{line}");
    assert!(line.contains("status=200"), "{line}");
    assert!(line.contains("latency="), "{line}");
}

#[tokio::test]
async fn metrics_are_refused_when_forwarded_by_a_proxy() {
    let app = app().await;

    let response = app
        .client()
        .get(format!("{}/metrics", app.address))
        .header("x-forwarded-for", "192.0.2.7")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 403);
    assert!(!response.text().await.unwrap().contains("ra_portal_"));
}

// ------------------------------------------------------------------ request IDs and logs

#[tokio::test]
async fn every_response_carries_a_request_id_of_its_own() {
    let app = app().await;

    let first = get(&app, "/health").await;
    let second = get(&app, "/login").await;
    let proxied = app
        .client()
        .get(format!("{}/health", app.address))
        .header("x-request-id", "from-the-proxy-42")
        .send()
        .await
        .unwrap();

    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id(&first).len(), 36, "a UUID: {}", id(&first));
    assert_ne!(id(&first), id(&second));
    assert_eq!(id(&proxied), "from-the-proxy-42", "a proxy's ID is kept");
}

#[tokio::test]
async fn every_log_line_of_a_request_carries_its_id() {
    let app = app().await;
    let cookie = app.cookie_for(Role::Nap).await.unwrap();

    // A login with a wrong password logs a line of its own in the handler.
    let response = app
        .client()
        .post(format!("{}/auth/login", app.address))
        .header("origin", &app.address)
        .header("cookie", cookie)
        .form(&[
            ("username", "nobody-ops-test"),
            ("password", "wrong"),
            ("return_to", "/"),
        ])
        .send()
        .await
        .unwrap();
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let logs = captured_logs();
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains(&request_id)).collect();
    assert!(
        lines.iter().any(|l| l.contains("local login refused")),
        "the handler's line carries the ID: {lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("finished processing request") && l.contains("status=303")),
        "{lines:#?}"
    );
    assert!(lines.iter().all(|l| l.contains("route=/auth/login")));
}

// ------------------------------------------------------------------ graceful shutdown

/// `ra-portal serve` on a fresh data folder, its output in a file.
struct Binary {
    child: Child,
    base_url: String,
    log: std::path::PathBuf,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- log of ra-portal ----\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

async fn start_binary(dir: &std::path::Path) -> Binary {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base_url = format!("http://127.0.0.1:{port}");
    let log = dir.join("portal.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ra-portal"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("RA_PORTAL_") {
            cmd.env_remove(key);
        }
    }
    let child = cmd
        .arg("serve")
        .current_dir(dir)
        .env("RA_PORTAL_DATA_DIR", dir)
        .env("RA_PORTAL_LISTEN", format!("127.0.0.1:{port}"))
        .env("RA_PORTAL_BASE_URL", &base_url)
        .env("LEPTOS_SITE_ROOT", dir.join("site"))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .expect("the ra-portal binary runs");
    let mut binary = Binary {
        child,
        base_url,
        log,
    };
    let started = Instant::now();
    loop {
        if let Ok(r) = reqwest::get(format!("{}/health", binary.base_url)).await {
            if r.status().is_success() {
                return binary;
            }
        }
        assert!(
            binary.child.try_wait().unwrap().is_none(),
            "ra-portal exited early"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "ra-portal did not become healthy"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish_then_stops_the_worker_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let mut portal = start_binary(dir.path()).await;
    let body = "username=nobody&password=wrong&return_to=%2F";
    let (head_of_body, rest_of_body) = body.split_at(10);

    // A login whose body is only half sent: the handler is waiting for the rest. `Expect:
    // 100-continue` makes the server say when the handler starts reading, so the request is
    // surely in flight before the signal.
    let mut conn = TcpStream::connect(portal.base_url.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /auth/login HTTP/1.1\r\nHost: x\r\nOrigin: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\n\r\n",
        portal.base_url,
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut continue_line = [0u8; 25];
    conn.read_exact(&mut continue_line).await.unwrap();
    assert_eq!(&continue_line, b"HTTP/1.1 100 Continue\r\n\r\n");
    conn.write_all(head_of_body.as_bytes()).await.unwrap();

    let term = Command::new("kill")
        .args(["-TERM", &portal.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        portal.child.try_wait().unwrap().is_none(),
        "it waits for the request in flight"
    );

    conn.write_all(rest_of_body.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    conn.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 303 "),
        "the request was answered: {response}"
    );

    let started = Instant::now();
    let status = loop {
        if let Some(status) = portal.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still running after the request ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    let log = std::fs::read_to_string(&portal.log).unwrap();
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("outbox worker stopped"), "{log}");
}
