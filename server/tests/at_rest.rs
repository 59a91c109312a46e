//! SPEC Q8, no usable secret at rest: once a challenge mail is delivered, no file of the data
//! folder holds its token — the database, its WAL and shared-memory files, free pages — also
//! after a restart; and the data folder is readable by the portal's own user only.
//!
//! With real parts: the `ra-portal` binary as a child process on a fresh data folder (set up with
//! the command line as an operator would), the NAP signing in and sending a challenge over HTTP,
//! and the outbox worker delivering it — to a relay of this test over SMTP, or into the mail
//! folder (the embedded default). The folder is then searched byte by byte for the token.
//!
//! The mail folder is the one exception, by design (README, "Data folder"): it is the mailbox the
//! embedded default delivers into, so its `.eml` files are the delivered mail itself and must
//! hold the link. It is private (0700, files 0600) like the rest; a portal with an SMTP relay has
//! no such folder, and there nothing is excluded from the search.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// Generous: the machine running the tests may be busy with other builds.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long delivery and the erasing after it may take (the worker is woken at once; its poll
/// interval is 5 s).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
const NAP_PASSWORD: &str = "a long enough secret";
const ANNA: &str = "anna@example.org";

// ------------------------------------------------------------------ the portal as a process

/// A child process, killed (SIGKILL) when dropped; its log is printed when the test fails.
struct Proc {
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn assert_running(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "ra-portal exited early ({status}):\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill_hard();
        if std::thread::panicking() {
            eprintln!("---- log of ra-portal ----");
            eprintln!("{}", std::fs::read_to_string(&self.log).unwrap_or_default());
        }
    }
}

use backend::testing::free_port;

/// `ra-portal` on the data folder `data`, with nothing of the caller's `RA_PORTAL_*` settings.
fn ra_portal(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ra-portal"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("RA_PORTAL_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RA_PORTAL_DATA_DIR", data)
        .env("USER", "tester")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    cmd
}

fn cli(data: &Path, args: &[&str], stdin: &str) {
    use std::io::Write;
    let mut child = ra_portal(data)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the ra-portal binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ra-portal {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh data folder `<tmp>/data`, made by the portal's own command line: example.org with the
/// local account `nora` as its NAP.
fn arrange_data_folder(tmp: &Path) -> PathBuf {
    let data = tmp.join("data");
    cli(
        &data,
        &[
            "domain",
            "add",
            "example.org",
            "--contact-group",
            "nap-example",
        ],
        "",
    );
    cli(
        &data,
        &[
            "user",
            "add",
            "--id",
            "nora",
            "--given",
            "Nora",
            "--family",
            "Nap",
            "--group",
            "nap-example",
            "--password-stdin",
        ],
        &format!("{NAP_PASSWORD}\n"),
    );
    data
}

/// Starts `ra-portal serve` on `data` (mail to 127.0.0.1:`smtp_port`, or into the mail folder) and
/// waits until `/health` answers. The log goes next to the data folder, not into it.
async fn start_portal(data: &Path, smtp_port: Option<u16>, run: u32) -> (Proc, String) {
    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let mut cmd = ra_portal(data);
    cmd.arg("serve")
        .env("RA_PORTAL_LISTEN", format!("127.0.0.1:{port}"))
        .env("RA_PORTAL_BASE_URL", &base_url)
        .env("LEPTOS_SITE_ROOT", data.with_file_name("site"));
    if let Some(smtp_port) = smtp_port {
        cmd.env("RA_PORTAL_MAIL__SMTP__HOST", "127.0.0.1")
            .env("RA_PORTAL_MAIL__SMTP__PORT", smtp_port.to_string())
            .env("RA_PORTAL_MAIL__SMTP__SECURITY", "none");
    }
    let log = data.with_file_name(format!("portal-{run}.log"));
    let out = File::create(&log).unwrap();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .expect("ra-portal serve starts");
    let mut proc = Proc {
        child: Some(child),
        log,
    };
    let started = Instant::now();
    loop {
        proc.assert_running();
        if let Ok(r) = reqwest::get(format!("{base_url}/health")).await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            started.elapsed() < STARTUP_TIMEOUT,
            "the portal did not become healthy"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (proc, base_url)
}

// ------------------------------------------------------------------ HTTP, as the browser does it

async fn login_as_nap(base_url: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .post(format!("{base_url}/auth/login"))
        .header("origin", base_url)
        .form(&[
            ("username", "nora"),
            ("password", NAP_PASSWORD),
            ("return_to", "/"),
        ])
        .send()
        .await
        .unwrap();
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|c| c.starts_with("ra_session=") && c.len() > "ra_session=".len())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no session after login: {}", response.status()))
}

async fn post_json(base_url: &str, cookie: &str, path: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{base_url}{path}"))
        .header("origin", base_url)
        .header("cookie", cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
}

/// The NAP signs in, adds Anna's row and sends its challenge: one mail into the outbox.
async fn nap_sends_a_challenge_to_anna(base_url: &str) {
    let cookie = login_as_nap(base_url).await;
    let row = post_json(
        base_url,
        &cookie,
        "/api/rows/create",
        json!({"domain": "example.org", "primary": ANNA, "form": {
            "first_name": "Anna", "last_name": "Schmidt", "aliases": "",
            "mailbox_type": "personal", "applicant": "", "comment": ""}}),
    )
    .await;
    let id = row["id"].as_i64().expect("row id");
    let report = post_json(
        base_url,
        &cookie,
        "/api/challenges/send",
        json!({"row_ids": [id]}),
    )
    .await;
    assert_eq!(report["challenges"], 1, "{report}");
}

// ------------------------------------------------------------------ a relay of the test's own

/// An SMTP relay on a free port that hands each mail's data to the test and answers "250" only
/// when the test says so — so the test can look at the data folder while the mail is queued.
async fn holding_relay() -> (u16, mpsc::UnboundedReceiver<(String, oneshot::Sender<()>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = speak_smtp(stream, tx).await;
            });
        }
    });
    (port, rx)
}

async fn speak_smtp(
    stream: TcpStream,
    tx: mpsc::UnboundedSender<(String, oneshot::Sender<()>)>,
) -> std::io::Result<()> {
    let mut stream = BufReader::new(stream);
    stream
        .get_mut()
        .write_all(b"220 test relay ESMTP\r\n")
        .await?;
    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        if command.starts_with("EHLO") || command.starts_with("HELO") {
            stream
                .get_mut()
                .write_all(b"250-test relay\r\n250 8BITMIME\r\n")
                .await?;
        } else if command == "DATA" {
            stream.get_mut().write_all(b"354 go ahead\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if stream.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(&line);
            }
            let (go, wait) = oneshot::channel();
            let _ = tx.send((data, go));
            let _ = wait.await;
            stream.get_mut().write_all(b"250 OK queued\r\n").await?;
        } else if command == "QUIT" {
            stream.get_mut().write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            stream.get_mut().write_all(b"250 OK\r\n").await?;
        }
    }
}

// ------------------------------------------------------------------ the token and the search

/// The challenge tokens of the links in a raw mail, whatever its parts' transfer encoding.
fn confirm_tokens(raw: &str) -> Vec<String> {
    // Quoted-printable soft line breaks may split a link; base64 parts are decoded whole.
    let mut texts = vec![raw.replace("=\r\n", "").replace("=\n", "")];
    let mut in_base64 = false;
    let mut chunk = String::new();
    for line in raw.lines() {
        if line
            .to_ascii_lowercase()
            .starts_with("content-transfer-encoding: base64")
        {
            in_base64 = true;
            chunk.clear();
        } else if in_base64 && line.starts_with("--") {
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(chunk.trim()) {
                texts.push(String::from_utf8_lossy(&bytes).into_owned());
            }
            in_base64 = false;
        } else if in_base64 && !line.contains(':') {
            chunk.push_str(line.trim());
        }
    }
    let mut tokens = Vec::new();
    for text in &texts {
        for (at, _) in text.match_indices("/confirm/") {
            let token: String = text[at + "/confirm/".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            if token.len() >= 22 && !tokens.contains(&token) {
                tokens.push(token);
            }
        }
    }
    tokens
}

/// Every file under `dir` (except under `skip`), with the pieces of `token` each one holds: the
/// whole token, or its first or last 12 characters (72 bits: no accident; a token split over two
/// database pages still shows).
fn files_holding(dir: &Path, skip: Option<&Path>, token: &str) -> Vec<(PathBuf, &'static str)> {
    let pieces: [(&str, &'static str); 3] = [
        (token, "the token"),
        (&token[..12], "its first 12 characters"),
        (&token[token.len() - 12..], "its last 12 characters"),
    ];
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if skip.is_some_and(|s| path == s) {
            continue;
        }
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
            continue;
        }
        // A file may vanish between listing and reading (SQLite removes its WAL on close).
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for (piece, what) in pieces {
            if bytes.windows(piece.len()).any(|w| w == piece.as_bytes()) {
                found.push((path.clone(), what));
            }
        }
    }
    found
}

/// Waits (up to the delivery timeout) until no file of the folder holds the token; fails with
/// the files that still do.
async fn until_no_file_holds(dir: &Path, skip: Option<&Path>, token: &str, when: &str) {
    let started = Instant::now();
    loop {
        let found = files_holding(dir, skip, token);
        if found.is_empty() {
            return;
        }
        assert!(
            started.elapsed() < DELIVERY_TIMEOUT,
            "{when}: the clear token is still at rest: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// ------------------------------------------------------------------ the tests

#[tokio::test]
async fn q8_no_file_of_the_data_folder_holds_a_delivered_token_over_smtp_also_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let data = arrange_data_folder(tmp.path());
    let (relay_port, mut relay) = holding_relay().await;
    let (mut portal, base_url) = start_portal(&data, Some(relay_port), 1).await;

    nap_sends_a_challenge_to_anna(&base_url).await;
    let (raw, deliver) = tokio::time::timeout(DELIVERY_TIMEOUT, relay.recv())
        .await
        .expect("the worker hands the mail to the relay")
        .unwrap();
    let tokens = confirm_tokens(&raw);
    assert_eq!(tokens.len(), 1, "one challenge link in the mail:\n{raw}");
    let token = &tokens[0];
    // While the mail is undelivered its token is at rest (the outbox must survive a crash): the
    // search finds it, so it is looking at the right bytes.
    assert!(
        !files_holding(&data, None, token).is_empty(),
        "the queued mail's token should be in the database files: {:?}",
        names(&data)
    );

    // The relay accepts it; the worker records the delivery, clears the body and erases it.
    deliver.send(()).unwrap();
    until_no_file_holds(&data, None, token, "after delivery over SMTP").await;

    // A restart on the same folder (after a hard kill: nothing was closed in order) brings
    // nothing back, and neither does the new portal's work.
    portal.kill_hard();
    assert!(
        files_holding(&data, None, token).is_empty(),
        "after the kill"
    );
    let (_portal, base_url) = start_portal(&data, Some(relay_port), 2).await;
    login_as_nap(&base_url).await;
    until_no_file_holds(&data, None, token, "after the restart").await;
}

#[tokio::test]
async fn q8_with_the_embedded_mail_folder_only_the_delivered_mail_holds_the_token() {
    let tmp = tempfile::tempdir().unwrap();
    let data = arrange_data_folder(tmp.path());
    let (mut portal, base_url) = start_portal(&data, None, 1).await;
    let mail_folder = data.join("mail");

    nap_sends_a_challenge_to_anna(&base_url).await;
    let started = Instant::now();
    let eml = loop {
        let delivered: Vec<PathBuf> = std::fs::read_dir(&mail_folder)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        if let Some(eml) = delivered
            .into_iter()
            .find(|p| p.extension().is_some_and(|x| x == "eml"))
        {
            break eml;
        }
        assert!(
            started.elapsed() < DELIVERY_TIMEOUT,
            "no .eml file was written"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let raw = std::fs::read_to_string(&eml).unwrap();
    let tokens = confirm_tokens(&raw);
    assert_eq!(tokens.len(), 1, "one challenge link in the mail:\n{raw}");
    let token = &tokens[0];
    assert!(
        !files_holding(&mail_folder, None, token).is_empty(),
        "the delivered mail holds its link"
    );

    until_no_file_holds(
        &data,
        Some(&mail_folder),
        token,
        "after delivery into the folder",
    )
    .await;
    portal.kill_hard();
    let (_portal, base_url) = start_portal(&data, None, 2).await;
    login_as_nap(&base_url).await;
    until_no_file_holds(&data, Some(&mail_folder), token, "after the restart").await;
}

#[cfg(unix)]
#[tokio::test]
async fn q8_the_data_folder_and_everything_in_it_is_private_to_the_portals_user() {
    use std::os::unix::fs::PermissionsExt;

    let tmp = tempfile::tempdir().unwrap();
    let data = arrange_data_folder(tmp.path());
    let (_portal, base_url) = start_portal(&data, None, 1).await;
    // A delivered mail, a session and a CA: every kind of file the portal writes.
    nap_sends_a_challenge_to_anna(&base_url).await;
    let started = Instant::now();
    while names(&data.join("mail"))
        .iter()
        .all(|n| !n.ends_with(".eml"))
    {
        assert!(
            started.elapsed() < DELIVERY_TIMEOUT,
            "no .eml file was written"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut checked = Vec::new();
    let mut stack = vec![data.clone()];
    while let Some(path) = stack.pop() {
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&path), want, "{} is {:o}", path.display(), mode(&path));
        checked.push(
            path.strip_prefix(&data)
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        );
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        }
    }
    checked.sort();
    for expected in ["", "ca", "ca/ca.key", "ca/ca.crt", "mail", "portal.sqlite3"] {
        assert!(
            checked.iter().any(|c| c == expected),
            "{expected:?} not among {checked:?}"
        );
    }
    assert!(checked.iter().any(|c| c.ends_with(".eml")), "{checked:?}");
    assert!(checked.iter().any(|c| c.ends_with("-wal")), "{checked:?}");
}

#[cfg(unix)]
#[tokio::test]
async fn q8_a_data_folder_of_an_older_version_is_made_private_at_start() {
    use std::os::unix::fs::PermissionsExt;

    let tmp = tempfile::tempdir().unwrap();
    let data = arrange_data_folder(tmp.path());
    // What an older version (or a careless copy) left: everything readable by everyone.
    let open_up = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    open_up(&data, 0o755);
    open_up(&data.join("portal.sqlite3"), 0o644);
    open_up(&data.join("ca"), 0o755);
    open_up(&data.join("ca/ca.crt"), 0o644);
    open_up(&data.join("ca/ca.key"), 0o644);

    let (_portal, _) = start_portal(&data, None, 2).await;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("portal.sqlite3")), 0o600);
    assert_eq!(mode(&data.join("ca")), 0o700);
    assert_eq!(mode(&data.join("ca/ca.key")), 0o600);
    assert_eq!(mode(&data.join("ca/ca.crt")), 0o600);
}
