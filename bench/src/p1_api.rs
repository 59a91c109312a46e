//! P1 through the REST API (SPEC R21, issue 20): the same 100 000-line file as the UI upload
//! (`p1`), sent by a script with an API token to `POST /api/v1/domains/example.org/bulk` —
//! first `?dry_run=true` (the preview), then the apply with an `Idempotency-Key`, then the same
//! request again (the replay, which applies nothing). Target: the API's apply within 10 % of the
//! UI's apply.
//!
//! On a fresh portal process of the same release build (the UI's run filled the first one's
//! table, where every line would be unchanged), so both applies write the same 100 000 new rows.
//! The API's apply plans and writes in one request, as the UI's apply does after its preview
//! (both parse and check the whole file again under the write lock).

use std::time::Instant;

use anyhow::Context;

use crate::p1::UploadTimes;
use crate::portal_process::{Memory, PortalProcess, ReleaseBuild};
use crate::report::{Figure, Report};

/// The API's apply may take at most this much longer than the UI's (issue 20: within 10 %).
const RATIO_TARGET: f64 = 1.10;

/// Sends the file to the bulk endpoint; returns status, answer, whether it was a replay, seconds.
async fn post_bulk(
    portal: &PortalProcess,
    token: &str,
    query: &str,
    key: Option<&str>,
    file: String,
) -> anyhow::Result<(reqwest::StatusCode, Vec<u8>, bool, f64)> {
    let url = format!(
        "{}/api/v1/domains/{}/bulk{query}",
        portal.base_url,
        crate::DOMAIN
    );
    let mut request = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .header("content-type", "text/csv");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let started = Instant::now();
    let resp = request.body(file).send().await?;
    let status = resp.status();
    let replayed = resp.headers().contains_key("idempotency-replayed");
    let answer = resp.bytes().await?;
    Ok((
        status,
        answer.to_vec(),
        replayed,
        started.elapsed().as_secs_f64(),
    ))
}

pub async fn run(
    build: &ReleaseBuild,
    upload: UploadTimes,
    report: &mut Report,
) -> anyhow::Result<()> {
    let lines = crate::env_number("RA_BENCH_CSV_LINES", crate::p1::LINES);
    let file = backend::testing::p1_csv_file(lines);
    let portal = PortalProcess::start(build, None).await?;
    let token = match portal.api_token() {
        Ok(token) => token,
        Err(e) => {
            report.push(Figure::not_measured(
                "P1",
                "API bulk apply / UI apply",
                format!("{e:#}"),
                format!("≤ {RATIO_TARGET}×"),
            ));
            return Ok(());
        }
    };

    let (status, body, _, dry_run_s) =
        post_bulk(&portal, &token, "?dry_run=true", None, file.clone()).await?;
    anyhow::ensure!(
        status.is_success(),
        "the dry run answered {status}: {}",
        String::from_utf8_lossy(&body[..body.len().min(300)])
    );
    let preview: serde_json::Value = serde_json::from_slice(&body)?;
    anyhow::ensure!(
        preview["new"].as_u64() == Some(lines as u64),
        "the dry run should show {lines} new lines, not {}",
        preview["new"]
    );

    let key = "\"bench-p1-api\"";
    let (status, body, _, apply_s) =
        post_bulk(&portal, &token, "", Some(key), file.clone()).await?;
    anyhow::ensure!(
        status.is_success(),
        "the apply answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    let applied: serde_json::Value = serde_json::from_slice(&body)?;
    anyhow::ensure!(
        applied["created"].as_u64() == Some(lines as u64),
        "the apply should create {lines} rows: {applied}"
    );
    let (status, _, replayed, replay_s) =
        post_bulk(&portal, &token, "", Some(key), file.clone()).await?;
    anyhow::ensure!(
        status.is_success() && replayed,
        "the repeated request should be a replay ({status})"
    );
    let memory = Memory::of(portal.pid()).context("the portal process is gone")?;

    report.push(Figure::info(
        "P1",
        "API: bulk dry run (POST /api/v1/…/bulk?dry_run=true, text/csv; UI preview beside it)",
        format!("{dry_run_s:.2} s (UI {:.2} s)", upload.preview_s),
    ));
    report.push(Figure::info(
        "P1",
        "API: bulk apply with Idempotency-Key (UI apply beside it)",
        format!("{apply_s:.2} s (UI {:.2} s)", upload.apply_s),
    ));
    report.push(Figure::info(
        "P1",
        "API: the same request again (replay: the first answer, nothing applied)",
        format!("{replay_s:.2} s"),
    ));
    let ratio = apply_s / upload.apply_s;
    report.push(Figure::checked(
        "P1",
        "API bulk apply / UI apply",
        format!("{ratio:.2}×"),
        format!("≤ {RATIO_TARGET}×"),
        ratio <= RATIO_TARGET,
    ));
    report.push(Figure::info(
        "P1",
        "API: server RSS, peak (VmHWM of the second ra-portal process)",
        format!("{:.0} MB", memory.peak_rss as f64 / 1024.0),
    ));
    Ok(())
}
