//! P3: challenges for 10 000 rows enqueued in ≤ 1 s (`challenges::send_challenges`, the NAP's
//! "send challenges" for a selection), then delivered to a loopback SMTP server at ≥ 500 mails/s
//! by the outbox worker's rounds (`mail::deliver_due_mails`, default settings) over the portal's
//! SMTP transport without TLS. The server is postfix's `smtp-sink`; postfix's `smtp-source` sends
//! the same number of mails to it over one connection for comparison (the spec's yardstick).

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use backend::config::{Config, MailConfig, SmtpConfig, SmtpSecurity};
use backend::mail::{deliver_due_mails, MailTransport, RoundOutcome, WorkerSettings};
use backend::sessions::SessionUser;
use backend::Portal;
use tokio::sync::Notify;

use crate::report::{is_root, Figure, Report};

/// Rows a challenge round is sent for.
const ROWS: i64 = 10_000;
const ENQUEUE_TARGET_S: f64 = 1.0;
const DELIVERY_TARGET: f64 = 500.0;
const SMTP_SINK: &str = "/usr/sbin/smtp-sink";
const SMTP_SOURCE: &str = "/usr/sbin/smtp-source";

/// `smtp-sink` on a loopback port, killed when dropped.
struct SmtpSink {
    child: Child,
    port: u16,
}

impl SmtpSink {
    fn start() -> anyhow::Result<SmtpSink> {
        // A free port: bound and released again (smtp-sink binds it itself right after).
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut command = Command::new(SMTP_SINK);
        if is_root() {
            // smtp-sink refuses to keep root privileges.
            command.args(["-u", "nobody"]);
        }
        let child = command
            .arg(format!("127.0.0.1:{port}"))
            .arg("512")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting smtp-sink")?;
        let mut sink = SmtpSink { child, port };
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(sink);
            }
            if let Some(status) = sink.child.try_wait()? {
                anyhow::bail!("smtp-sink exited at once: {status}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        anyhow::bail!("smtp-sink does not listen on port {port}")
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The same portal configuration, with mail to the sink (no TLS: it is on this host).
fn smtp_config(portal: &Portal, port: u16) -> Config {
    Config {
        mail: MailConfig {
            smtp: Some(SmtpConfig {
                host: "127.0.0.1".into(),
                port: Some(port),
                security: SmtpSecurity::None,
                username: None,
                password: None,
                ca_file: None,
            }),
            ..portal.config.mail.clone()
        },
        ..(*portal.config).clone()
    }
}

async fn count(portal: &Portal, sql: &'static str) -> anyhow::Result<i64> {
    Ok(backend::run!(portal.pool, ex => sqlx::query_scalar(sql).fetch_one(ex).await)?)
}

pub async fn run(portal: &Portal, domain_id: i64, report: &mut Report) -> anyhow::Result<()> {
    // The NAP's selection: the first 10 000 active rows (inactive ones would be refused, R7).
    let row_ids: Vec<i64> = backend::run!(portal.pool, ex => sqlx::query_scalar(
        "SELECT id FROM mailbox_rows WHERE domain_id = $1 AND active = TRUE ORDER BY id LIMIT $2",
    )
    .bind(domain_id)
    .bind(ROWS)
    .fetch_all(ex)
    .await)?;
    let user = SessionUser {
        user_id: "nora".into(),
        given_name: "Nora".into(),
        family_name: "Bench".into(),
        email: None,
        groups: vec![crate::NAP_GROUP.into()],
        session_started_at: 0,
    };
    let viewer = backend::roles::Viewer::load(&portal.pool, user, &portal.config).await?;
    // Nobody listens: the rounds below are the worker.
    let nobody = Notify::new();
    println!("P3: sending challenges for {} rows …", row_ids.len());
    let started = Instant::now();
    let sent = backend::challenges::send_challenges(
        &portal.pool,
        &viewer,
        &row_ids,
        &portal.config,
        &nobody,
    )
    .await?;
    let enqueue = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        sent.refused.is_empty(),
        "challenges refused: {:?}",
        &sent.refused[..sent.refused.len().min(5)]
    );
    report.push(Figure::checked(
        "P3",
        format!(
            "enqueue challenges for {} rows ({} challenges + mails, one transaction)",
            sent.rows, sent.challenges
        ),
        format!("{enqueue:.3} s"),
        format!("≤ {ENQUEUE_TARGET_S} s"),
        enqueue <= ENQUEUE_TARGET_S,
    ));
    let queued = count(
        portal,
        "SELECT COUNT(*) FROM mail_outbox WHERE state = 'queued'",
    )
    .await?;
    let mean_body = count(
        portal,
        "SELECT CAST(AVG(LENGTH(body_text) + LENGTH(body_html)) AS BIGINT) FROM mail_outbox
         WHERE state = 'queued'",
    )
    .await?;

    if !std::path::Path::new(SMTP_SINK).exists() {
        report.push(Figure::not_measured(
            "P3",
            "delivery to a loopback SMTP server",
            "postfix's smtp-sink is not installed (scripts/bench.sh installs it)",
            format!("≥ {DELIVERY_TARGET} mails/s"),
        ));
        return Ok(());
    }
    let sink = SmtpSink::start()?;
    let config = smtp_config(portal, sink.port);
    let transport = Arc::new(MailTransport::from_config(&config)?);
    let settings = WorkerSettings::default();
    println!(
        "P3: delivering {queued} mails to smtp-sink on port {} ({}) …",
        sink.port,
        transport.describe()
    );
    let started = Instant::now();
    let mut done = RoundOutcome::default();
    let mut rounds = 0;
    loop {
        let round = deliver_due_mails(
            &portal.pool,
            &transport,
            &settings,
            backend::clock::now(),
            None,
        )
        .await?;
        if round.picked == 0 {
            break;
        }
        rounds += 1;
        done.picked += round.picked;
        done.sent += round.sent;
        done.retried += round.retried;
        done.failed += round.failed;
    }
    let delivery = started.elapsed().as_secs_f64();
    let rate = done.sent as f64 / delivery;
    let left = count(
        portal,
        "SELECT COUNT(*) FROM mail_outbox WHERE state = 'queued'",
    )
    .await?;
    let mut value = format!(
        "{rate:.0} mails/s ({} sent in {delivery:.2} s, {rounds} rounds of ≤ {}, {} at once",
        done.sent, settings.batch, settings.concurrency
    );
    if done.retried + done.failed > 0 || left > 0 {
        value.push_str(&format!(
            "; {} retried, {} failed, {left} still queued",
            done.retried, done.failed
        ));
    }
    value.push(')');
    report.push(Figure::checked(
        "P3",
        "delivery by the outbox worker to smtp-sink (SMTP, no TLS)",
        value,
        format!("≥ {DELIVERY_TARGET} mails/s"),
        rate >= DELIVERY_TARGET && left == 0 && done.failed == 0,
    ));

    if std::path::Path::new(SMTP_SOURCE).exists() {
        let mails = done.sent.max(1);
        for (label, length) in [
            ("default payload", None),
            ("payload of the mean body", Some(mean_body)),
        ] {
            let rate = smtp_source(sink.port, mails, length).await?;
            report.push(Figure::info(
                "P3",
                format!(
                    "postfix smtp-source to the same sink, 1 connection, {mails} mails ({label}{})",
                    length.map_or(String::new(), |l| format!(", -l {l}"))
                ),
                format!("{rate:.0} mails/s"),
            ));
        }
    }
    drop(sink);
    Ok(())
}

/// Mails per second `smtp-source` sends to the sink over one connection (`-d -s 1`).
async fn smtp_source(port: u16, mails: usize, length: Option<i64>) -> anyhow::Result<f64> {
    let mut command = Command::new(SMTP_SOURCE);
    command.args([
        "-d",
        "-s",
        "1",
        "-m",
        &mails.to_string(),
        "-f",
        "a@x",
        "-t",
        "b@y",
    ]);
    if let Some(length) = length {
        command.args(["-l", &length.to_string()]);
    }
    command
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    let elapsed = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        output.status.success(),
        "smtp-source failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(mails as f64 / elapsed)
}
