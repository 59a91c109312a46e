//! P1: a 100 000-line CSV file (aliases, functional and inactive rows) previewed and applied in
//! ≤ 3 s in all, at most 1.5× the time Debian's `sqlite3` needs to execute the portal's own writes
//! for the file as one SQL script (`p1_sql`); server RSS ≤ 150 MB. `sqlite3 .import` of the file
//! into a bare table is printed beside it for information (SPEC §9).
//!
//! Measured on the deployed server, a real `ra-portal serve` process ([`PortalProcess`]), the way
//! the NAP's browser does it: `POST /domains/example.org/csv/preview` with the file, then
//! `POST …/csv/apply` with the preview's fingerprint; each time from sending the file to the
//! complete answer. The server's memory is read from `/proc/<pid>/status` every few milliseconds
//! meanwhile. Then `sqlite3` executes the writes the apply made, read back from the portal's
//! database, on copies of the database as it was before the upload, and imports the same file into
//! a bare table of a new database file; three times each (the median counts).

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::watch;

use crate::portal_process::{Memory, PortalProcess};
use crate::report::{Figure, Report};

/// Data lines of the file (SPEC P1); `RA_BENCH_CSV_LINES` overrides it for a quick trial.
pub const LINES: usize = 100_000;
const TOTAL_TARGET_S: f64 = 3.0;
/// Preview + apply against `sqlite3` executing the portal's writes (SPEC §9).
const RATIO_TARGET: f64 = 1.5;
const RSS_TARGET_MB: f64 = 150.0;
/// How often the server's memory is read while it works.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);
const IMPORT_RUNS: usize = 3;

/// The highest memory figures seen while sampling.
#[derive(Debug, Default, Clone, Copy)]
struct Peaks {
    anon: u64,
    rss: u64,
}

/// Reads the memory of a process every [`SAMPLE_EVERY`] until finished.
struct Sampling {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Peaks>,
}

impl Sampling {
    fn start(pid: u32) -> Sampling {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut peaks = Peaks::default();
            loop {
                if let Some(m) = Memory::of(pid) {
                    peaks.anon = peaks.anon.max(m.anon);
                    peaks.rss = peaks.rss.max(m.rss);
                }
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = tokio::time::sleep(SAMPLE_EVERY) => {}
                }
            }
            peaks
        });
        Sampling { stop, task }
    }

    /// The highest figures seen.
    async fn finish(self) -> anyhow::Result<Peaks> {
        let _ = self.stop.send(true);
        Ok(self.task.await?)
    }
}

/// Sends the file to `…/csv/{step}` as the NAP's browser does (with the preview's fingerprint
/// for the apply); returns the status, the answer, and the seconds from sending the file to the
/// complete answer.
async fn post_file(
    portal: &PortalProcess,
    step: &str,
    file: String,
    fingerprint: Option<&str>,
) -> anyhow::Result<(reqwest::StatusCode, Vec<u8>, f64)> {
    let url = format!("{}/domains/{}/csv/{step}", portal.base_url, crate::DOMAIN);
    let mut request = reqwest::Client::new()
        .post(url)
        .header("cookie", &portal.cookie)
        .header("origin", &portal.base_url);
    if let Some(fingerprint) = fingerprint {
        request = request.header(::domain::csv::FINGERPRINT_HEADER, fingerprint);
    }
    let started = Instant::now();
    let resp = request.body(file).send().await?;
    let status = resp.status();
    let answer = resp.bytes().await?;
    let seconds = started.elapsed().as_secs_f64();
    Ok((status, answer.to_vec(), seconds))
}

fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The UI upload's times, for the API's bulk figures beside them (`p1_api`).
#[derive(Debug, Clone, Copy)]
pub struct UploadTimes {
    /// `POST …/csv/preview`, seconds.
    pub preview_s: f64,
    /// `POST …/csv/apply`, seconds.
    pub apply_s: f64,
}

pub async fn run(portal: &PortalProcess, report: &mut Report) -> anyhow::Result<UploadTimes> {
    let lines = crate::env_number("RA_BENCH_CSV_LINES", LINES);
    let file = backend::testing::p1_csv_file(lines);
    let size_mib = file.len() as f64 / 1_048_576.0;
    let before = Memory::of(portal.pid()).context("the portal process is gone")?;

    // The database as it was before the upload, for the yardstick: nothing is written meanwhile.
    let baseline = Yardstick::take(portal).await;
    let sampling = Sampling::start(portal.pid());
    let (status, preview_body, preview_s) =
        post_file(portal, "preview", file.clone(), None).await?;
    let preview_peaks = sampling.finish().await?;
    anyhow::ensure!(
        status.is_success(),
        "preview answered {status}: {}",
        String::from_utf8_lossy(&preview_body[..preview_body.len().min(300)])
    );
    let preview: serde_json::Value = serde_json::from_slice(&preview_body)?;
    let fingerprint = preview["fingerprint"]
        .as_str()
        .context("the preview has no fingerprint")?;
    let new = preview["new"].as_u64().unwrap_or(0);
    let errors = preview["errors"].as_array().map_or(0, Vec::len);
    anyhow::ensure!(
        errors == 0 && new == lines as u64,
        "the preview should show {lines} new lines and no error, not {new} and {errors}"
    );

    // What the preview left behind: memory the apply starts from.
    let between = Memory::of(portal.pid()).context("the portal process is gone")?;
    let sampling = Sampling::start(portal.pid());
    let (status, apply_body, apply_s) =
        post_file(portal, "apply", file.clone(), Some(fingerprint)).await?;
    let apply_peaks = sampling.finish().await?;
    anyhow::ensure!(
        status.is_success(),
        "apply answered {status}: {}",
        String::from_utf8_lossy(&apply_body)
    );
    let peaks = Peaks {
        anon: preview_peaks.anon.max(apply_peaks.anon),
        rss: preview_peaks.rss.max(apply_peaks.rss),
    };
    let after = Memory::of(portal.pid()).context("the portal process is gone")?;
    let total_s = preview_s + apply_s;

    report.push(Figure::info(
        "P1",
        format!("file: {lines} lines, {size_mib:.1} MiB (a fifth with aliases, a tenth functional, a tenth inactive)"),
        format!("preview answer {:.1} MiB of JSON", preview_body.len() as f64 / 1_048_576.0),
    ));
    report.push(Figure::info(
        "P1",
        "preview (POST …/csv/preview: upload, parse, every rule, answer)",
        format!("{preview_s:.2} s"),
    ));
    report.push(Figure::info(
        "P1",
        "apply (POST …/csv/apply: upload, parse and check again, write in one transaction)",
        format!("{apply_s:.2} s"),
    ));
    report.push(Figure::checked(
        "P1",
        "preview + apply",
        format!("{total_s:.2} s"),
        format!("≤ {TOTAL_TARGET_S} s"),
        total_s <= TOTAL_TARGET_S,
    ));
    // The engine's own command-line client (SPEC §9).
    let client = if portal.database_url().is_some() {
        "psql"
    } else {
        "sqlite3"
    };
    let yardstick = match baseline {
        Ok(baseline) => baseline.run_script(portal).await,
        Err(e) => Err(e),
    };
    match yardstick {
        Ok(script) => {
            report.push(Figure::info(
                "P1",
                format!(
                    "{client} executing the portal's own writes for the file: every row the apply added or changed, \
                     read back from the portal's database ({} rows into {} tables in {} INSERT statements of up to 500 \
                     rows, {:.1} MiB of SQL; the triggers fill the row counts{}), one transaction, \
                     on a copy of the database before the upload (Debian's {client}, median of {})",
                    script.counts.rows,
                    script.counts.tables,
                    script.counts.statements,
                    script.bytes as f64 / 1_048_576.0,
                    if client == "sqlite3" { " and the search index" } else { "" },
                    crate::p1_sql::RUNS
                ),
                format!("{:.3} s", script.seconds),
            ));
            report.push(Figure::checked(
                "P1",
                format!("preview + apply / {client} executing the portal's writes"),
                format!("{:.2}×", total_s / script.seconds),
                format!("≤ {RATIO_TARGET}×"),
                total_s / script.seconds <= RATIO_TARGET,
            ));
            report.push(Figure::info(
                "P1",
                format!("apply alone / {client} executing the portal's writes"),
                format!("{:.2}×", apply_s / script.seconds),
            ));
        }
        Err(e) => report.push(Figure::not_measured(
            "P1",
            format!("preview + apply / {client} executing the portal's writes"),
            format!("{e:#}"),
            format!("≤ {RATIO_TARGET}×"),
        )),
    }
    // Informational, and the same file whatever the portal's engine: once, beside SQLite.
    if portal.database_url().is_none() {
        match sqlite3_import(&file) {
            Ok(import_s) => report.push(Figure::info(
                "P1",
                format!(
                    "sqlite3 .import of the same file into a bare table (Debian's sqlite3, median of {IMPORT_RUNS}); \
                     preview + apply against it"
                ),
                format!("{import_s:.3} s; {:.1}×", total_s / import_s),
            )),
            Err(e) => report.push(Figure::info(
                "P1",
                "sqlite3 .import of the same file into a bare table",
                format!("not measured: {e:#}"),
            )),
        }
    }
    report.push(Figure::checked(
        "P1",
        "server RSS, peak (VmHWM of the ra-portal process: private memory and mapped database pages)",
        format!(
            "{:.0} MB (before the upload {:.0} MB, after {:.0} MB)",
            mb(after.peak_rss.max(peaks.rss)),
            mb(before.rss),
            mb(after.rss)
        ),
        format!("≤ {RSS_TARGET_MB} MB"),
        mb(after.peak_rss.max(peaks.rss)) <= RSS_TARGET_MB,
    ));
    report.push(Figure::info(
        "P1",
        format!(
            "server private memory, peak (RssAnon, read every {} ms)",
            SAMPLE_EVERY.as_millis()
        ),
        format!(
            "{:.0} MB (during the preview {:.0} MB, during the apply {:.0} MB; before {:.0} MB, between {:.0} MB, after {:.0} MB; mapped files after: {:.0} MB)",
            mb(peaks.anon),
            mb(preview_peaks.anon),
            mb(apply_peaks.anon),
            mb(before.anon),
            mb(between.anon),
            mb(after.anon),
            mb(after.file)
        ),
    ));
    Ok(UploadTimes { preview_s, apply_s })
}

/// The database before the upload, in the engine the portal runs on.
enum Yardstick {
    Sqlite(crate::p1_sql::Baseline),
    Postgres(crate::p1_psql::Baseline),
}

impl Yardstick {
    /// Copies the database of `portal` as it is now.
    async fn take(portal: &PortalProcess) -> anyhow::Result<Yardstick> {
        match portal.database_url() {
            None => crate::p1_sql::Baseline::take(&portal.database_file()).map(Yardstick::Sqlite),
            Some(url) => {
                let admin = std::env::var("PG_URL").context("PG_URL")?;
                crate::p1_psql::Baseline::take(&admin, url)
                    .await
                    .map(Yardstick::Postgres)
            }
        }
    }

    /// Executes the portal's writes with the engine's own command-line client.
    async fn run_script(&self, portal: &PortalProcess) -> anyhow::Result<crate::p1_sql::ScriptRun> {
        match (self, portal.database_url()) {
            (Yardstick::Sqlite(b), None) => b.run_script(&portal.database_file()),
            (Yardstick::Postgres(b), Some(url)) => b.run_script(url).await,
            _ => anyhow::bail!("the portal changed its engine"),
        }
    }
}

/// Seconds `sqlite3 .import` takes for `file` into a bare table of a new database: the median of
/// [`IMPORT_RUNS`] runs, each on its own new file.
fn sqlite3_import(file: &str) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("p1.csv");
    std::fs::write(&csv, file)?;
    let mut times = Vec::new();
    for run in 0..IMPORT_RUNS {
        let db = dir.path().join(format!("import{run}.sqlite3"));
        let started = Instant::now();
        let out = Command::new("sqlite3")
            .arg(&db)
            .arg(format!(".import --csv {} bare", csv.display()))
            .output()
            .context("running sqlite3 (apt-get install sqlite3)")?;
        times.push(started.elapsed().as_secs_f64());
        anyhow::ensure!(
            out.status.success(),
            "sqlite3 .import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}
