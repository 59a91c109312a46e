//! `ra-bench`: measures, on this machine, the figures of the performance targets of SPEC §9 and
//! prints them next to the targets; the same table is appended to `bench/results.md`.
//!
//! Two portals. For P2, P3 and the server-side render of P4, one in this process on a temporary
//! data folder, seeded with a 100 000-row domain, served by the real application
//! (`server::startup::Application`) on a loopback port. For what belongs to the server process
//! itself (P1: its time and memory for a CSV upload) and to the browser (P4: the WASM download
//! and the time until the table page is hydrated), the deployed release build: a `ra-portal
//! serve` child process with the site `cargo leptos build --release` made
//! ([`portal_process::PortalProcess`]). The load comes from outside tools where the spec names
//! them: Debian's `wrk` for the table page (P2), postfix's `smtp-sink`/`smtp-source` for mail
//! delivery (P3), Debian's `sqlite3` and `psql` as P1's yardsticks, Debian's chromium driven by Playwright
//! for hydration. `scripts/bench.sh` installs them and builds everything in release mode; a
//! figure whose tool is missing is reported as not measured rather than failing the run.
//!
//! Usage: `ra-bench [section ...]` with sections `p1`, `p2`, `p3`, `p4` (default: all). For a
//! quick trial, `RA_BENCH_ROWS`, `RA_BENCH_CSV_LINES` and `RA_BENCH_WRK_SECONDS` shrink the data
//! and the load (such a run is not appended to the results); with `RA_BENCH_KEEP` set, the data
//! folder (SQLite file) is kept for a look with `sqlite3`. Each section is a module with one
//! `run` function adding [`report::Figure`]s to the report.

mod app;
mod p1;
mod p1_api;
mod p1_postgres;
mod p1_psql;
mod p1_sql;
mod p2;
mod p3;
mod p4;
mod portal_process;
mod postgres;
mod report;
mod seed;

use std::time::Instant;

use anyhow::Context;
use backend::config::Config;
use backend::Portal;

use report::{Figure, Report};

/// Name of the seeded domain and its NAP group.
pub const DOMAIN: &str = "example.org";
/// The contact group of [`DOMAIN`]; the benchmark's NAP is in it.
pub const NAP_GROUP: &str = "nap-example";
/// Rows of the seeded domain (SPEC P2: "a 100 000-row domain"); `RA_BENCH_ROWS` overrides it for
/// a quick trial run.
pub const SEED_ROWS: usize = 100_000;

/// A number from the environment, or `default`.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The parts of the benchmark that can be run on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// A CSV file previewed and applied by the server process.
    P1,
    /// The table page under load (and the list query alone).
    P2,
    /// Challenges enqueued and delivered.
    P3,
    /// The table page rendered by the server; the WASM client's size and hydration time.
    P4,
}

impl Section {
    const ALL: [Section; 4] = [Section::P1, Section::P2, Section::P3, Section::P4];

    fn parse(arg: &str) -> anyhow::Result<Section> {
        match arg.to_ascii_lowercase().as_str() {
            "p1" => Ok(Section::P1),
            "p2" => Ok(Section::P2),
            "p3" => Ok(Section::P3),
            "p4" => Ok(Section::P4),
            other => anyhow::bail!("unknown section {other:?}: expected p1, p2, p3 or p4"),
        }
    }

    /// Whether it needs the HTTP application running in this process, on the seeded data.
    fn needs_app(self) -> bool {
        matches!(self, Section::P2 | Section::P4)
    }

    /// Whether it needs the deployed release build running as its own process.
    fn needs_portal_process(self) -> bool {
        matches!(self, Section::P1 | Section::P4)
    }
}

fn main() -> anyhow::Result<()> {
    // The in-process portal's allocator set as `ra-portal`'s `main` sets it.
    server::memory::map_large_blocks();
    let mut sections = Vec::new();
    for arg in std::env::args().skip(1) {
        if arg == "-h" || arg == "--help" {
            println!("usage: ra-bench [p1] [p2] [p3] [p4]   (default: all sections)");
            return Ok(());
        }
        sections.push(Section::parse(&arg)?);
    }
    if sections.is_empty() {
        sections = Section::ALL.to_vec();
    }
    // The portal logs warnings and errors only, so the report stays readable.
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "warn");
    }
    server::telemetry::init();
    // As the portal itself runs (`ra-portal serve`): tokio's multi-threaded runtime, one worker
    // per core.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(&sections))
}

async fn run(sections: &[Section]) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut report = Report::new();
    // The deployed build first: its figures do not depend on the seeded portal below, and P1 fills
    // the table that P4's browser then hydrates.
    let process = if sections.iter().any(|s| s.needs_portal_process()) {
        match portal_process::ReleaseBuild::find() {
            Ok(build) => Some(
                portal_process::PortalProcess::start(&build, None)
                    .await
                    .map(|p| (build, p))?,
            ),
            Err(why) => {
                println!("not measured (P1, P4 in the browser): {why}");
                None
            }
        }
    } else {
        None
    };
    if sections.contains(&Section::P1) {
        match &process {
            Some((build, portal)) => {
                let upload = p1::run(portal, &mut report).await?;
                p1_postgres::copy_floor(portal, &mut report).await?;
                p1_api::run(build, upload, &mut report).await?;
                p1_postgres::run(build, &mut report).await?;
            }
            None => report.push(Figure::not_measured(
                "P1",
                "CSV preview + apply",
                "no release build",
                "≤ 3 s",
            )),
        }
    }
    if sections.contains(&Section::P4) {
        p4::run_client(process.as_ref().map(|(b, p)| (b, p)), &mut report).await?;
    }
    drop(process);
    let dir = tempfile::tempdir().context("temporary data folder")?;
    // Bound first, so the portal's base URL (links, same-origin check) names the real port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let config = Config {
        base_url: base_url.clone(),
        data_dir: dir.path().to_path_buf(),
        // P2's REST API run measures the list, not the per-token rate limit (which would answer
        // most of wrk's requests 429).
        api: backend::config::ApiConfig {
            rate_limit_per_minute: 0,
            rate_limit_burst: 1,
        },
        ..Config::default()
    };
    let portal = Portal::open(config).await.context("opening the portal")?;
    let domain = backend::domains::register_domain(&portal.pool, "bench", DOMAIN, NAP_GROUP)
        .await
        .context("registering the domain")?;
    println!("data folder {}, portal at {base_url}", dir.path().display());

    if !sections.iter().any(|s| s.needs_app() || *s == Section::P3) {
        return finish(report, started, dir, &portal).await;
    }
    let rows = env_number("RA_BENCH_ROWS", SEED_ROWS);
    let seeded = seed::seed(domain.id, rows, &portal.config.database_path()).await?;
    println!("{seeded}");
    report.push(Figure::info(
        "seed",
        format!("seed {rows} rows (one transaction, multi-row INSERTs)"),
        format!("{:.2} s", seeded.elapsed.as_secs_f64()),
    ));

    if sections.iter().any(|s| s.needs_app()) {
        let app = app::RunningApp::start(&portal, listener).await?;
        if sections.contains(&Section::P2) {
            p2::run(&portal, &app, &mut report).await?;
        }
        if sections.contains(&Section::P4) {
            p4::run_server(&app, &mut report).await?;
        }
        // Its outbox worker must not deliver the mail P3 measures.
        app.stop().await;
    } else {
        drop(listener);
    }
    // The same data on PostgreSQL, copied before P3 adds its mail (issue 22).
    let on_postgres = if sections.contains(&Section::P2) || sections.contains(&Section::P3) {
        postgres::copy_of(&portal, &mut report).await?
    } else {
        None
    };
    if sections.contains(&Section::P3) {
        p3::run(&portal, domain.id, &mut report).await?;
    }
    if let Some(url) = on_postgres {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let pg_portal = postgres::open(&portal, &url, base_url).await?;
        report.set_engine(Some("PostgreSQL"));
        if sections.contains(&Section::P2) {
            let app = app::RunningApp::start(&pg_portal, listener).await?;
            p2::run(&pg_portal, &app, &mut report).await?;
            // A second instance on the same database: its own pool, listener and sessions.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let base_url = format!("http://{}", listener.local_addr()?);
            let second = postgres::open(&portal, &url, base_url).await?;
            let second_app = app::RunningApp::start(&second, listener).await?;
            p2::run_on_instances(&[&app, &second_app], &mut report).await?;
            second_app.stop().await;
            second.pool.close().await;
            app.stop().await;
        }
        if sections.contains(&Section::P3) {
            p3::run(&pg_portal, domain.id, &mut report).await?;
        }
        report.set_engine(None);
    }

    finish(report, started, dir, &portal).await
}

/// The closing figures; prints the report and appends it to the results file.
async fn finish(
    mut report: Report,
    started: Instant,
    dir: tempfile::TempDir,
    portal: &Portal,
) -> anyhow::Result<()> {
    report.push(Figure::info(
        "all",
        "peak RSS of ra-bench: server, seeding, P3 worker (VmHWM; wrk, smtp-sink not counted)",
        match report::peak_rss_kib() {
            Some(kib) => format!("{:.0} MB", kib as f64 / 1024.0),
            None => "unknown".into(),
        },
    ));
    if let Some((anon, file)) = report::rss_anon_and_file_kib() {
        report.push(Figure::info(
            "all",
            "RSS of ra-bench at the end: private memory (RssAnon) / mapped files (RssFile: the database file, mapped by each connection for reads)",
            format!("{:.0} MB / {:.0} MB", anon as f64 / 1024.0, file as f64 / 1024.0),
        ));
    }
    report.push(Figure::info(
        "all",
        "wall time of the benchmark",
        format!("{:.1} s", started.elapsed().as_secs_f64()),
    ));
    report.print();
    if std::env::var_os("RA_BENCH_KEEP").is_some() {
        println!(
            "\nRA_BENCH_KEEP: the data folder {} is kept",
            dir.keep().display()
        );
    }
    let trial = [
        "RA_BENCH_ROWS",
        "RA_BENCH_CSV_LINES",
        "RA_BENCH_WRK_SECONDS",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some());
    if trial {
        println!("\ntrial run (RA_BENCH_* set): not appended to bench/results.md");
        portal.pool.close().await;
        return Ok(());
    }
    match report.append_to_results() {
        Ok(path) => println!("\nappended to {}", path.display()),
        Err(e) => eprintln!("\ncould not append to bench/results.md: {e:#}"),
    }
    portal.pool.close().await;
    Ok(())
}
