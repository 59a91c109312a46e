//! P4: release WASM + JS ≤ 400 KB gzip; the table page rendered by the server in ≤ 50 ms;
//! interactive (hydrated) in ≤ 300 ms in headless chromium.
//!
//! - [`run_client`], on the deployed release build: the sizes of the WASM and JS files in the
//!   site's `pkg/` (raw and `gzip -9`, as a server or proxy would send them), and the time from
//!   the start of the navigation until the table page is hydrated, in Debian's chromium driven by
//!   Playwright (`end2end/measure/hydration.mjs`), each load in a new browser context (nothing
//!   cached), on the table P1 filled.
//! - [`run_server`], on the seeded in-process portal: `GET /domains/example.org` as the NAP, once
//!   warm, the mean of sequential requests.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;

use crate::app::RunningApp;
use crate::portal_process::{workspace_dir, PortalProcess, ReleaseBuild};
use crate::report::{ms, Figure, Report};

const WARM_UP: u32 = 5;
const REQUESTS: u32 = 50;
const TARGET_MS: f64 = 50.0;

pub async fn run_server(app: &RunningApp, report: &mut Report) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let url = format!("{}/domains/{}", app.base_url, crate::DOMAIN);
    let mut total = 0.0;
    let mut worst: f64 = 0.0;
    let mut bytes = 0;
    let mut addresses = 0;
    for i in 0..WARM_UP + REQUESTS {
        let started = Instant::now();
        let resp = client
            .get(&url)
            .header("cookie", &app.cookie)
            .send()
            .await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        anyhow::ensure!(status.is_success(), "GET {url} answered {status}");
        if i >= WARM_UP {
            total += elapsed;
            worst = worst.max(elapsed);
            bytes = body.len();
            addresses = String::from_utf8_lossy(&body)
                .matches(&format!("@{}", crate::DOMAIN))
                .count();
        }
    }
    let mean = total / f64::from(REQUESTS);
    report.push(Figure::checked(
        "P4",
        format!("table page rendered by the server (GET, mean of {REQUESTS}, warm)"),
        format!(
            "{} (max {}; {} KB HTML naming {addresses} addresses of the domain)",
            ms(mean),
            ms(worst),
            bytes / 1024
        ),
        format!("≤ {TARGET_MS} ms"),
        mean <= TARGET_MS,
    ));
    Ok(())
}

const SIZE_TARGET_KB: f64 = 400.0;
const HYDRATION_TARGET_MS: f64 = 300.0;
/// Page loads measured in the browser (after one that warms the browser up).
const LOADS: usize = 10;

/// Bytes of `path` after `gzip -9`.
fn gzip_size(path: &Path) -> anyhow::Result<u64> {
    let file = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .stdin(file)
        .stderr(Stdio::inherit())
        .output()
        .context("running gzip")?;
    anyhow::ensure!(out.status.success(), "gzip failed");
    Ok(out.stdout.len() as u64)
}

/// The client's size and the table page's time to interactive, on the deployed build.
pub async fn run_client(
    deployed: Option<(&ReleaseBuild, &PortalProcess)>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let Some((build, portal)) = deployed else {
        report.push(Figure::not_measured(
            "P4",
            "release WASM + JS, gzip",
            "no release build",
            format!("≤ {SIZE_TARGET_KB} KB"),
        ));
        return Ok(());
    };
    let pkg = build.site_root.join("pkg");
    let mut raw = 0;
    let mut gzipped = 0;
    let mut parts = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&pkg)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("wasm" | "js")))
        .collect();
    files.sort();
    for path in &files {
        let size = std::fs::metadata(path)?.len();
        let gz = gzip_size(path)?;
        raw += size;
        gzipped += gz;
        parts.push(format!(
            "{} {:.0} KB → {:.0} KB",
            path.file_name().unwrap_or_default().to_string_lossy(),
            size as f64 / 1000.0,
            gz as f64 / 1000.0
        ));
    }
    let gz_kb = gzipped as f64 / 1000.0;
    report.push(Figure::checked(
        "P4",
        format!(
            "release WASM + JS, gzip -9 (raw {:.0} KB; {})",
            raw as f64 / 1000.0,
            parts.join(", ")
        ),
        format!("{gz_kb:.0} KB"),
        format!("≤ {SIZE_TARGET_KB} KB"),
        gz_kb <= SIZE_TARGET_KB,
    ));

    let path = format!("/domains/{}", crate::DOMAIN);
    let out = Command::new("node")
        .current_dir(workspace_dir().join("end2end"))
        .arg("measure/hydration.mjs")
        .args([&portal.base_url, &portal.cookie, &path, &LOADS.to_string()])
        .stderr(Stdio::inherit())
        .output();
    let loads: Vec<serde_json::Value> = match out {
        Ok(out) if out.status.success() => serde_json::from_slice(&out.stdout)?,
        Ok(out) => {
            report.push(Figure::not_measured(
                "P4",
                "table page interactive (hydrated) in headless chromium",
                format!("the measuring script failed ({})", out.status),
                format!("≤ {HYDRATION_TARGET_MS} ms"),
            ));
            return Ok(());
        }
        Err(e) => {
            report.push(Figure::not_measured(
                "P4",
                "table page interactive (hydrated) in headless chromium",
                format!("node: {e}"),
                format!("≤ {HYDRATION_TARGET_MS} ms"),
            ));
            return Ok(());
        }
    };
    let field = |visit: &str, name: &str| -> Vec<f64> {
        let mut v: Vec<f64> = loads
            .iter()
            .filter_map(|l| l[visit][name].as_f64())
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let median = |v: &[f64]| v.get(v.len() / 2).copied().unwrap_or(f64::NAN);
    let worst = |v: &[f64]| v.last().copied().unwrap_or(f64::NAN);
    for (visit, what) in [
        ("cold", "first visit, nothing cached"),
        ("warm", "next visit, browser caches warm"),
    ] {
        let hydrated = field(visit, "hydrated");
        let html = field(visit, "html");
        let wasm = field(visit, "wasmLoaded");
        let ready = field(visit, "wasmReady");
        let name = format!(
            "table page interactive (hydrated) in headless chromium, {what}: median of {} loads (HTML received {}, WASM received {}, compiled and instantiated {})",
            hydrated.len(),
            ms(median(&html)),
            ms(median(&wasm)),
            ms(median(&ready))
        );
        let value = format!("{} (max {})", ms(median(&hydrated)), ms(worst(&hydrated)));
        report.push(Figure::checked(
            "P4",
            name,
            value,
            format!("≤ {HYDRATION_TARGET_MS} ms"),
            median(&hydrated) <= HYDRATION_TARGET_MS,
        ));
    }
    Ok(())
}
