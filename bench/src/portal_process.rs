//! A real `ra-portal serve` process: the release binary and site that `cargo leptos build
//! --release` made (as `scripts/run.sh` deploys them), on a temporary data folder, with a NAP who
//! logged in through the login form. For the figures that belong to the server process itself:
//! its memory while it takes a CSV file (P1), and the page a browser hydrates (P4).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use tempfile::TempDir;

/// The NAP's account; the password is the benchmark's own, on a throw-away portal.
const NAP_ID: &str = "nora";
const NAP_PASSWORD: &str = "bench-nora-password";

/// Where `cargo leptos build --release` put the server binary and the site.
pub struct ReleaseBuild {
    /// `ra-portal`.
    pub binary: PathBuf,
    /// The site root: `pkg/` holds the WASM, JS and CSS.
    pub site_root: PathBuf,
}

impl ReleaseBuild {
    /// The build of this checkout (`RA_BENCH_PORTAL_BIN` / `RA_BENCH_SITE_ROOT` override), or
    /// `None` with the reason when it is missing.
    pub fn find() -> Result<ReleaseBuild, String> {
        let target_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_dir().join("target"));
        let binary = std::env::var_os("RA_BENCH_PORTAL_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| target_dir.join("release/ra-portal"));
        let site_root = std::env::var_os("RA_BENCH_SITE_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_dir().join("target/site"));
        if !binary.is_file() {
            return Err(format!(
                "no {} (scripts/bench.sh builds it with `cargo leptos build --release`)",
                binary.display()
            ));
        }
        if !site_root.join("pkg").is_dir() {
            return Err(format!("no site in {}", site_root.display()));
        }
        Ok(ReleaseBuild { binary, site_root })
    }
}

/// The checkout this benchmark belongs to.
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ lies in the workspace")
        .to_path_buf()
}

/// Memory of a process as `/proc/<pid>/status` gives it, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// Resident set now (`VmRSS`): private memory plus mapped file pages.
    pub rss: u64,
    /// Peak resident set (`VmHWM`), kept by the kernel.
    pub peak_rss: u64,
    /// Private memory now (`RssAnon`): heap, stacks, SQLite's page caches.
    pub anon: u64,
    /// Mapped file pages now (`RssFile`): the binary, and the database file that SQLite maps for
    /// reads (the kernel's shared file cache, counted once per mapping).
    pub file: u64,
}

impl Memory {
    /// Of process `pid`, or `None` once it is gone.
    pub fn of(pid: u32) -> Option<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| crate::report::status_field(&status, name);
        Some(Memory {
            rss: field("VmRSS:")?,
            peak_rss: field("VmHWM:")?,
            anon: field("RssAnon:")?,
            file: field("RssFile:")?,
        })
    }
}

/// A running `ra-portal serve` with a logged-in NAP of [`crate::DOMAIN`]; killed when dropped.
pub struct PortalProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// `ra_session=…`: the NAP's session.
    pub cookie: String,
    /// The binary, for command-line calls on the same data folder.
    binary: PathBuf,
    /// The data folder (removed when this is dropped).
    data: TempDir,
    /// `database`: a PostgreSQL URL, or `None` for the SQLite file in the data folder.
    database: Option<String>,
}

impl PortalProcess {
    /// Sets up a fresh data folder with the domain and a NAP account (through the command line, as
    /// an operator would), starts the server and logs the NAP in through the login form. With
    /// `database`, the portal runs on that (empty) PostgreSQL database instead of its SQLite file.
    pub async fn start(
        build: &ReleaseBuild,
        database: Option<&str>,
    ) -> anyhow::Result<PortalProcess> {
        let data = tempfile::tempdir().context("data folder")?;
        // A free port: bound and released again (the portal binds it right after).
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let base_url = format!("http://127.0.0.1:{port}");
        let command = |args: &[&str]| {
            let mut c = Command::new(&build.binary);
            c.args(args)
                .env("RA_PORTAL_DATA_DIR", data.path())
                .env("RA_PORTAL_LISTEN", format!("127.0.0.1:{port}"))
                .env("RA_PORTAL_BASE_URL", &base_url)
                .env("LEPTOS_SITE_ROOT", &build.site_root)
                .env("RUST_LOG", "warn");
            if let Some(url) = database {
                c.env("RA_PORTAL_DATABASE", url);
            }
            c
        };
        let run = |args: &[&str], stdin: Option<&str>| -> anyhow::Result<()> {
            let mut child = command(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .with_context(|| format!("ra-portal {}", args.join(" ")))?;
            if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
                writeln!(pipe, "{text}")?;
            }
            let status = child.wait()?;
            anyhow::ensure!(status.success(), "ra-portal {} failed: {status}", args[0]);
            Ok(())
        };
        run(
            &[
                "domain",
                "add",
                crate::DOMAIN,
                "--contact-group",
                crate::NAP_GROUP,
            ],
            None,
        )?;
        run(
            &[
                "user",
                "add",
                "--id",
                NAP_ID,
                "--given",
                "Nora",
                "--family",
                "Bench",
                "--group",
                crate::NAP_GROUP,
                "--password-stdin",
            ],
            Some(NAP_PASSWORD),
        )?;
        let child = command(&["serve"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .context("ra-portal serve")?;
        let mut process = PortalProcess {
            child,
            base_url,
            cookie: String::new(),
            binary: build.binary.clone(),
            data,
            database: database.map(str::to_owned),
        };
        process.wait_until_healthy().await?;
        process.cookie = process.log_in().await?;
        Ok(process)
    }

    /// The portal's SQLite database file (`portal.sqlite3` in the data folder, the default).
    pub fn database_file(&self) -> PathBuf {
        self.data.path().join("portal.sqlite3")
    }

    /// The PostgreSQL database the portal runs on, if it does.
    pub fn database_url(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A read+write API token of the NAP for the benchmark's domain, made with the command line
    /// (`ra-portal api-token create`, which prints only the secret) on the running portal's data.
    pub fn api_token(&self) -> anyhow::Result<String> {
        let out = Command::new(&self.binary)
            .args([
                "api-token",
                "create",
                "--creator",
                NAP_ID,
                "--domain",
                crate::DOMAIN,
                "--scope",
                "read-write",
                "--name",
                "bench",
                "--days",
                "1",
            ])
            .env("RA_PORTAL_DATA_DIR", self.data.path())
            .env("RA_PORTAL_BASE_URL", &self.base_url)
            .envs(self.database.iter().map(|url| ("RA_PORTAL_DATABASE", url)))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .context("ra-portal api-token create")?;
        anyhow::ensure!(
            out.status.success(),
            "ra-portal api-token create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    }

    async fn wait_until_healthy(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(resp) = client.get(format!("{}/health", self.base_url)).send().await {
                if resp.status().is_success() {
                    return Ok(());
                }
            }
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("ra-portal serve exited at once: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!(
            "ra-portal serve at {} did not answer /health",
            self.base_url
        )
    }

    /// Logs the NAP in as a browser does; returns the session cookie.
    async fn log_in(&self) -> anyhow::Result<String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let resp = client
            .post(format!("{}/auth/login", self.base_url))
            .header("origin", &self.base_url)
            .form(&[
                ("username", NAP_ID),
                ("password", NAP_PASSWORD),
                ("return_to", "/"),
            ])
            .send()
            .await?;
        resp.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("ra_session="))
            .and_then(|c| c.split(';').next())
            .map(str::to_owned)
            .with_context(|| format!("the login answered {} without a session", resp.status()))
    }
}

impl Drop for PortalProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
