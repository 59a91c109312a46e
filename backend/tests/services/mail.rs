//! Mail: the `.eml` folder, the outbox worker's bookkeeping, and real SMTP (STARTTLS + AUTH)
//! against the end-to-end test server (`end2end/services/smtp-server.js`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backend::clock;
use backend::config::{SmtpConfig, SmtpSecurity};
use backend::mail::{
    deliver_due_mails, run_outbox_worker, DeliverMail, DeliveryError, MailTransport, OutboxMail,
    WorkerSettings,
};
use backend::secret::SecretString;
use backend::storage::Db;
use mailparse::MailHeaderMap;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::{watch, Notify};

use super::challenges::{add_row, mails, token_in, world, World};

/// Sends one challenge round to each of `primaries` (personal rows, no aliases).
async fn queue(w: &World, primaries: &[&str]) {
    let mut ids = Vec::new();
    for p in primaries {
        ids.push(add_row(&w.db.pool, w.domain.id, p, &[], None, true).await);
    }
    assert_eq!(w.send(&ids).await.challenges, primaries.len());
}

#[tokio::test]
async fn folder_transport_writes_a_parseable_eml_with_text_and_html() {
    let w = world().await;
    queue(&w, &["anna@example.org"]).await;
    let queued = &mails(&w.db.pool).await[0];
    let token = token_in(queued);
    let transport = Arc::new(MailTransport::from_config(&w.config).unwrap());

    let outcome = deliver_due_mails(
        &w.db.pool,
        &transport,
        &WorkerSettings::default(),
        clock::now(),
        None,
    )
    .await
    .unwrap();

    assert_eq!(outcome.sent, 1);
    let folder = w.db.dir.path().join("mail");
    let files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "no temporary file left: {files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        name.starts_with(&format!("{}-", queued.id)) && name.ends_with("@example.org.eml"),
        "{name}"
    );
    let raw = std::fs::read(&files[0]).unwrap();
    let parsed = mailparse::parse_mail(&raw).unwrap();
    let header = |n: &str| parsed.get_headers().get_first_value(n).unwrap_or_default();
    assert_eq!(header("To"), "anna@example.org");
    assert_eq!(header("From"), "\"RA Portal\" <ra-portal@example.org>");
    assert_eq!(
        header("Subject"),
        "Bestätigung Ihrer E-Mail-Adresse / Please confirm your email address"
    );
    assert_eq!(header("Message-ID"), queued.message_id);
    assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
    let parts: Vec<(String, String)> = parsed
        .subparts
        .iter()
        .map(|p| (p.ctype.mimetype.clone(), p.get_body().unwrap()))
        .collect();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].0, "text/plain");
    assert_eq!(parts[1].0, "text/html");
    let link = format!("https://ra.example.org/confirm/{token}");
    assert!(parts[0].1.contains(&link), "{}", parts[0].1);
    assert!(
        parts[1].1.contains(&format!("href=\"{link}\"")),
        "{}",
        parts[1].1
    );
    assert!(parts[0].1.find("Guten Tag").unwrap() < parts[0].1.find("Hello").unwrap());
}

/// A stand-in relay: answers per recipient from a script, the last answer repeating.
#[derive(Default)]
struct ScriptedRelay {
    script: HashMap<String, Vec<Result<(), DeliveryError>>>,
    tries: Mutex<HashMap<String, usize>>,
}

impl ScriptedRelay {
    fn answer(mut self, recipient: &str, answers: Vec<Result<(), DeliveryError>>) -> Self {
        self.script.insert(recipient.to_owned(), answers);
        self
    }
}

impl DeliverMail for ScriptedRelay {
    async fn deliver(&self, mail: &OutboxMail) -> Result<(), DeliveryError> {
        let n = {
            let mut tries = self.tries.lock().unwrap();
            let n = tries.entry(mail.recipient.clone()).or_default();
            *n += 1;
            *n
        };
        match self.script.get(&mail.recipient) {
            Some(answers) => answers[(n - 1).min(answers.len() - 1)].clone(),
            None => Ok(()),
        }
    }
}

fn temporary() -> Result<(), DeliveryError> {
    Err(DeliveryError::Temporary("451 4.3.0 try again later".into()))
}

#[tokio::test]
async fn worker_retries_a_temporary_failure_with_backoff_and_records_a_permanent_one() {
    let w = world().await;
    queue(
        &w,
        &["ok@example.org", "temp@example.org", "perm@example.org"],
    )
    .await;
    let relay = Arc::new(
        ScriptedRelay::default()
            .answer("temp@example.org", vec![temporary(), Ok(())])
            .answer(
                "perm@example.org",
                vec![Err(DeliveryError::Permanent(
                    "550 5.1.1 no such user".into(),
                ))],
            ),
    );
    let settings = WorkerSettings::default();
    let t0 = 1_800_000_000;

    let first = deliver_due_mails(&w.db.pool, &relay, &settings, t0, None)
        .await
        .unwrap();

    assert_eq!((first.sent, first.retried, first.failed), (1, 1, 1));
    let by_recipient = |all: Vec<super::challenges::MailRow>| {
        all.into_iter()
            .map(|m| (m.recipient.clone(), m))
            .collect::<HashMap<_, _>>()
    };
    let after_first = by_recipient(mails(&w.db.pool).await);
    let temp = &after_first["temp@example.org"];
    assert_eq!(
        (temp.state.as_str(), temp.attempts, temp.next_attempt_at),
        ("queued", 1, t0 + 30)
    );
    assert_eq!(
        temp.last_error.as_deref(),
        Some("451 4.3.0 try again later")
    );
    assert!(temp.body_text.is_some(), "kept for the retry");
    let perm = &after_first["perm@example.org"];
    assert_eq!(perm.state, "failed");
    assert_eq!(perm.last_error.as_deref(), Some("550 5.1.1 no such user"));
    assert_eq!(
        perm.body_text, None,
        "the token leaves with the failed mail"
    );

    let too_early = deliver_due_mails(&w.db.pool, &relay, &settings, t0 + 29, None)
        .await
        .unwrap();
    assert_eq!(too_early.picked, 0);
    let retry = deliver_due_mails(&w.db.pool, &relay, &settings, t0 + 30, None)
        .await
        .unwrap();
    assert_eq!(retry.sent, 1);
    let temp = &by_recipient(mails(&w.db.pool).await)["temp@example.org"];
    assert_eq!((temp.state.as_str(), temp.attempts), ("sent", 2));
    assert_eq!(temp.last_error, None);
}

#[tokio::test]
async fn worker_gives_up_after_ten_temporary_failures() {
    let w = world().await;
    queue(&w, &["temp@example.org"]).await;
    let relay = Arc::new(ScriptedRelay::default().answer("temp@example.org", vec![temporary()]));
    let settings = WorkerSettings::default();
    let mut now = 1_800_000_000;
    let mut waits = Vec::new();
    for _ in 0..10 {
        let outcome = deliver_due_mails(&w.db.pool, &relay, &settings, now, None)
            .await
            .unwrap();
        assert_eq!(outcome.picked, 1);
        let mail = &mails(&w.db.pool).await[0];
        if mail.state == "queued" {
            waits.push(mail.next_attempt_at - now);
            now = mail.next_attempt_at;
        }
    }

    assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    let mail = &mails(&w.db.pool).await[0];
    assert_eq!((mail.state.as_str(), mail.attempts), ("failed", 10));
    assert!(mail
        .last_error
        .as_deref()
        .unwrap()
        .starts_with("gave up after 10 attempts: 451"));
}

#[tokio::test]
async fn worker_wakes_on_notify_and_stops_on_shutdown() {
    let w = world().await;
    let notify = Arc::new(Notify::new());
    let (stop, shutdown) = watch::channel(false);
    let settings = WorkerSettings {
        poll_interval: Duration::from_secs(3600),
        ..WorkerSettings::default()
    };
    let transport = Arc::new(MailTransport::from_config(&w.config).unwrap());
    let worker = tokio::spawn(run_outbox_worker(
        w.db.pool.clone(),
        transport,
        settings,
        Arc::clone(&notify),
        shutdown,
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;

    let row = add_row(&w.db.pool, w.domain.id, "anna@example.org", &[], None, true).await;
    backend::challenges::send_challenges(&w.db.pool, &w.nap, &[row], &w.config, &notify)
        .await
        .unwrap();
    wait_until(&w.db.pool, "sent", 1).await;
    stop.send(true).unwrap();

    tokio::time::timeout(Duration::from_secs(5), worker)
        .await
        .expect("worker stops")
        .unwrap();
}

async fn wait_until(pool: &Db, state: &str, count: i64) {
    for _ in 0..200 {
        let n: i64 = backend::run!(pool, ex => sqlx::query_scalar("SELECT COUNT(*) FROM mail_outbox WHERE state = $1")
            .bind(state)
            .fetch_one(ex)
            .await)
            .unwrap();
        if n >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} mails reached {state}");
}

// ------------------------------------------------------------------ real SMTP (node test server)

/// The end-to-end SMTP test server, stopped when dropped.
struct SmtpServer {
    _child: Child,
    smtp_port: u16,
    api_port: u16,
    ca: PathBuf,
    _dir: tempfile::TempDir,
}

use backend::testing::free_port;

fn end2end() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end")
}

/// Starts the server with STARTTLS (test CA) and AUTH; `None` only when `node` is not installed.
async fn start_smtp_server(fail: &str, tempfail: &str) -> Option<SmtpServer> {
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: `node` is not installed, so the SMTP test server cannot run");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("sh")
        .arg(end2end().join("services/make-test-ca.sh"))
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("make-test-ca.sh runs");
    assert!(status.success(), "make-test-ca.sh failed");
    let (smtp_port, api_port) = (free_port(), free_port());
    let mut child = Command::new("node")
        .arg(end2end().join("services/smtp-server.js"))
        .current_dir(end2end())
        .env("SMTP_PORT", smtp_port.to_string())
        .env("SMTP_API_PORT", api_port.to_string())
        .env("SMTP_USER", "mailer")
        .env("SMTP_PASS", "mailer-password")
        .env("SMTP_REQUIRE_TLS", "1")
        .env("SMTP_TLS_KEY", dir.path().join("server.key"))
        .env("SMTP_TLS_CERT", dir.path().join("server.pem"))
        .env("SMTP_FAIL_RCPT", fail)
        .env("SMTP_TEMPFAIL_RCPT", tempfail)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("listening") {
                return;
            }
        }
        panic!("smtp-server.js exited before listening");
    })
    .await
    .expect("smtp-server.js listens within 30 s");
    // Keep draining its log so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Some(SmtpServer {
        _child: child,
        smtp_port,
        api_port,
        ca: dir.path().join("ca.pem"),
        _dir: dir,
    })
}

impl SmtpServer {
    fn transport(&self) -> MailTransport {
        let smtp = SmtpConfig {
            host: "127.0.0.1".into(),
            port: Some(self.smtp_port),
            security: SmtpSecurity::Starttls,
            username: Some("mailer".into()),
            password: Some(SecretString::from("mailer-password")),
            ca_file: Some(self.ca.clone()),
        };
        MailTransport::smtp(
            &smtp,
            "RA Portal <ra-portal@example.org>".parse().unwrap(),
            Default::default(),
        )
        .unwrap()
    }

    /// One request to the HTTP API; the JSON answer.
    async fn api(&self, method: &str, path: &str, body: &str) -> serde_json::Value {
        let mut stream = TcpStream::connect(("127.0.0.1", self.api_port))
            .await
            .unwrap();
        let request = format!(
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let (_, json) = response.split_once("\r\n\r\n").unwrap();
        serde_json::from_str(json).unwrap()
    }
}

#[tokio::test]
async fn smtp_delivery_over_starttls_with_auth_reaches_the_server_and_classifies_refusals() {
    let Some(server) = start_smtp_server("gone@example.org", "busy@example.org").await else {
        return;
    };
    let w = world().await;
    queue(
        &w,
        &["anna@example.org", "gone@example.org", "busy@example.org"],
    )
    .await;
    let token = token_in(&mails(&w.db.pool).await[0]);
    let transport = Arc::new(server.transport());
    let settings = WorkerSettings::default();
    let t0 = clock::now();

    let first = deliver_due_mails(&w.db.pool, &transport, &settings, t0, None)
        .await
        .unwrap();

    assert_eq!(
        (first.sent, first.retried, first.failed),
        (1, 1, 1),
        "{first:?}"
    );
    let received = server.api("GET", "/api/mails", "").await;
    let received = received.as_array().unwrap();
    assert_eq!(received.len(), 1, "{received:?}");
    let mail = &received[0];
    assert_eq!(mail["to"], serde_json::json!(["anna@example.org"]));
    assert_eq!(mail["secure"], true, "STARTTLS was used");
    assert_eq!(mail["authUser"], "mailer");
    assert_eq!(mail["messageId"], mails(&w.db.pool).await[0].message_id);
    assert!(mail["text"]
        .as_str()
        .unwrap()
        .contains(&format!("/confirm/{token}")));
    assert!(mail["html"]
        .as_str()
        .unwrap()
        .contains(&format!("/confirm/{token}")));
    let outbox = mails(&w.db.pool).await;
    let gone = outbox
        .iter()
        .find(|m| m.recipient == "gone@example.org")
        .unwrap();
    assert_eq!(gone.state, "failed");
    let reply = gone.last_error.as_deref().unwrap();
    assert!(
        reply.contains("550") && reply.contains("mailbox unavailable"),
        "{reply}"
    );
    let busy = outbox
        .iter()
        .find(|m| m.recipient == "busy@example.org")
        .unwrap();
    assert_eq!((busy.state.as_str(), busy.attempts), ("queued", 1));
    assert!(
        busy.last_error.as_deref().unwrap().contains("451"),
        "{:?}",
        busy.last_error
    );

    // The relay accepts it again: the retry goes out once its backoff has passed.
    server.api("PUT", "/api/rules", r#"{"tempfail": []}"#).await;
    let retry = deliver_due_mails(&w.db.pool, &transport, &settings, t0 + 30, None)
        .await
        .unwrap();
    assert_eq!(retry.sent, 1, "{retry:?}");
    let busy_mails = server
        .api("GET", "/api/mails?to=busy@example.org", "")
        .await;
    assert_eq!(busy_mails.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn smtp_with_a_wrong_password_keeps_the_mail_queued_for_after_the_fix() {
    let Some(server) = start_smtp_server("", "").await else {
        return;
    };
    let w = world().await;
    queue(&w, &["anna@example.org"]).await;
    let smtp = SmtpConfig {
        host: "127.0.0.1".into(),
        port: Some(server.smtp_port),
        security: SmtpSecurity::Starttls,
        username: Some("mailer".into()),
        password: Some(SecretString::from("wrong")),
        ca_file: Some(server.ca.clone()),
    };
    let transport = Arc::new(
        MailTransport::smtp(&smtp, "ra@example.org".parse().unwrap(), Default::default()).unwrap(),
    );

    let outcome = deliver_due_mails(
        &w.db.pool,
        &transport,
        &WorkerSettings::default(),
        clock::now(),
        None,
    )
    .await
    .unwrap();

    assert_eq!(outcome.retried, 1, "{outcome:?}");
    let error = mails(&w.db.pool).await[0].last_error.clone().unwrap();
    assert!(error.contains("535") && error.contains("login"), "{error}");
    assert!(
        !error.contains("wrong"),
        "the password never shows: {error}"
    );
}

/// SPEC P3: delivery to a loopback SMTP server at ≥ 500 mails/s. Prints the rate.
/// `cargo test --release -p backend --features testing --test services -- --ignored --nocapture p3_`
/// (`P3_MAILS` and `P3_CONCURRENCY` change the number of mails and of parallel sends).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored"]
async fn p3_delivery_rate_to_a_loopback_smtp_server() {
    let Some(server) = start_smtp_server("", "").await else {
        return;
    };
    let w = world().await;
    let n: usize = std::env::var("P3_MAILS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let primaries: Vec<String> = (0..n).map(|i| format!("user{i}@example.org")).collect();
    let refs: Vec<&str> = primaries.iter().map(String::as_str).collect();
    queue(&w, &refs).await;
    let transport = Arc::new(server.transport());
    let settings = WorkerSettings {
        concurrency: std::env::var("P3_CONCURRENCY")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(8),
        ..WorkerSettings::default()
    };

    let start = std::time::Instant::now();
    let mut sent = 0;
    while sent < n {
        let outcome = deliver_due_mails(&w.db.pool, &transport, &settings, clock::now(), None)
            .await
            .unwrap();
        assert_eq!(outcome.retried + outcome.failed, 0, "{outcome:?}");
        sent += outcome.sent;
    }
    let elapsed = start.elapsed();

    println!(
        "P3: {n} mails delivered over STARTTLS+AUTH to the loopback test server in {:.2} s: {:.0} mails/s",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
}

/// A minimal SMTPS relay (TLS from the first byte) on a free port, enough for one session at a
/// time: the Node test server speaks STARTTLS only. Returns its port and the received DATA.
async fn start_smtps_relay(dir: &Path) -> (u16, Arc<Mutex<Vec<String>>>) {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls::ServerConfig;

    let certs = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&received);
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let sink = Arc::clone(&sink);
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let (read, mut write) = tokio::io::split(tls);
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 smtps test relay\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            sink.lock().unwrap().push(data.take().unwrap());
                            write.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => {
                            b"250-smtps test relay\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN\r\n"
                        }
                        "AUTH" => b"235 2.7.0 authenticated\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => b"221 bye\r\n",
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, received)
}

#[tokio::test]
async fn smtp_over_implicit_tls_trusts_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("sh")
        .arg(end2end().join("services/make-test-ca.sh"))
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("make-test-ca.sh runs (needs openssl)");
    assert!(status.success());
    let (port, received) = start_smtps_relay(dir.path()).await;
    let w = world().await;
    queue(&w, &["anna@example.org", "ben@example.org"]).await;
    let smtp = |ca_file: Option<PathBuf>| SmtpConfig {
        host: "127.0.0.1".into(),
        port: Some(port),
        security: SmtpSecurity::Tls,
        username: Some("mailer".into()),
        password: Some(SecretString::from("mailer-password")),
        ca_file,
    };
    let from = || "ra@example.org".parse().unwrap();

    // Without the extra CA the relay's certificate is not trusted: nothing goes out.
    let untrusted = Arc::new(MailTransport::smtp(&smtp(None), from(), Default::default()).unwrap());
    let refused = deliver_due_mails(
        &w.db.pool,
        &untrusted,
        &WorkerSettings::default(),
        1_800_000_000,
        None,
    )
    .await
    .unwrap();
    assert_eq!(refused.retried, 2, "{refused:?}");
    let error = mails(&w.db.pool).await[0].last_error.clone().unwrap();
    assert!(error.contains("TLS"), "{error}");

    let trusted = Arc::new(
        MailTransport::smtp(
            &smtp(Some(dir.path().join("ca.pem"))),
            from(),
            Default::default(),
        )
        .unwrap(),
    );
    let sent = deliver_due_mails(
        &w.db.pool,
        &trusted,
        &WorkerSettings::default(),
        1_800_000_100,
        None,
    )
    .await
    .unwrap();
    assert_eq!(sent.sent, 2, "{sent:?}");
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 2);
    assert!(received.iter().any(|m| m.contains("To: anna@example.org")));
}
