//! P2: a table page (50 rows, with filter and sort) over the 100 000-row domain, p99 ≤ 20 ms at
//! 32 concurrent clients and ≥ 2 000 requests/s.
//!
//! The load is Debian's `wrk` (2 threads, 32 connections, 15 s, `--latency`) against the table's
//! server function `POST /api/rows/list`, as the page's own script calls it: JSON body, the NAP's
//! session cookie, the portal's `Origin`. A Lua script cycles through the requests of a NAP who
//! pages through the table with the pager's "next" button (pages 0..200, or the pages a search
//! has): each names its page and the last row of the page before (the anchor the pager sends).
//! Two runs: active rows sorted by last name, and the same with a search term; besides the rates,
//! the portal's CPU time per request (all its threads), which other load on the machine disturbs
//! less than the rates.
//! A third run pages through the same table with the REST API (`GET /api/v1/domains/…/rows`, a
//! read-only API token, the list's cursors), issue 20's "50-row list under wrk at 32 connections".
//! For diagnosis, the list query is also timed alone (the service `rows::list_rows`, no HTTP,
//! sequential): page 0 unfiltered, the first 200 pages of the active rows by last name stepped
//! through as the pager does and read by page number (as after a reload), page 1000 by number,
//! a search, and the "pending" filter (every 50th row from the 20 000th on gets a pending
//! challenge first).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use backend::rows::{list_rows, Anchor, RowQuery, SortKey, StateFilter};
use backend::sessions::SessionUser;
use backend::Portal;

use crate::app::RunningApp;
use crate::report::{ms, Figure, Report};

const CONNECTIONS: u32 = 32;
const THREADS: u32 = 2;
/// Length of a wrk run; `RA_BENCH_WRK_SECONDS` overrides it.
const SECONDS: u32 = 15;
const PAGE_SIZE: u32 = 50;
/// The page number cycles through at most this many pages.
const MAX_PAGES: u32 = 200;
/// The search term of the second run.
const SEARCH: &str = "schmidt";
/// Sequential calls of the list service when it is timed alone.
const SERVICE_CALLS: u32 = 400;

const P99_TARGET_MS: f64 = 20.0;
const RATE_TARGET: f64 = 2000.0;

/// The JSON body of the table's list call; `after` is the pager's anchor, the last row of the
/// page before.
fn body(search: &str, page: u32, after: Option<i64>) -> String {
    serde_json::json!({
        "domain": crate::DOMAIN,
        "query": {
            "search": search, "active": true, "mailbox_type": null, "state": null,
            "sort": "LastName", "descending": false, "page": page, "page_size": PAGE_SIZE,
            "anchor": after.map(|id| serde_json::json!({ "After": id })),
        }
    })
    .to_string()
}

/// The wrk script: the headers of the page's own call, and the bodies it cycles through.
fn lua_script(app: &RunningApp, bodies: &[String]) -> String {
    let list = bodies
        .iter()
        .map(|b| format!("  [==[{b}]==],"))
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Origin"] = "{origin}"
wrk.headers["Cookie"] = "{cookie}"
local bodies = {{
{list}
}}
local n = 0
request = function()
  local body = bodies[(n % #bodies) + 1]
  n = n + 1
  return wrk.format(nil, "/api/rows/list", nil, body)
end
"#,
        origin = app.base_url,
        cookie = app.cookie,
    )
}

/// What wrk printed, parsed.
#[derive(Debug, Default)]
struct WrkResult {
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    requests_per_sec: Option<f64>,
    requests: Option<u64>,
    non_2xx: u64,
    socket_errors: Option<String>,
}

/// `4.90ms`, `812.00us`, `1.02s` as milliseconds.
fn duration_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => value / 1000.0,
        "ms" => value,
        "s" => value * 1000.0,
        "m" => value * 60_000.0,
        _ => return None,
    })
}

fn parse_wrk(output: &str) -> WrkResult {
    let mut result = WrkResult::default();
    for line in output.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", value] => result.p50_ms = duration_ms(value),
            ["99%", value] => result.p99_ms = duration_ms(value),
            ["Requests/sec:", value] => result.requests_per_sec = value.parse().ok(),
            [count, "requests", "in", ..] => result.requests = count.parse().ok(),
            ["Non-2xx", "or", "3xx", "responses:", count] => {
                result.non_2xx = count.parse().unwrap_or(0)
            }
            ["Socket", "errors:", ..] => result.socket_errors = Some(line.to_owned()),
            _ => {}
        }
    }
    result
}

/// Pages through the table once as the pager does (page 0, then "next" with the anchor of the
/// page before), at most [`MAX_PAGES`] pages; returns how many rows match and the request bodies.
async fn walk_pages(app: &RunningApp, search: &str) -> anyhow::Result<(u64, Vec<String>)> {
    let client = reqwest::Client::new();
    let mut bodies = Vec::new();
    let mut after = None;
    let mut total = 0;
    for page in 0..MAX_PAGES {
        let request = body(search, page, after);
        let resp = client
            .post(format!("{}/api/rows/list", app.base_url))
            .header("content-type", "application/json")
            .header("origin", &app.base_url)
            .header("cookie", &app.cookie)
            .body(request.clone())
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        anyhow::ensure!(
            status.is_success(),
            "POST /api/rows/list answered {status}: {text}"
        );
        let answer: serde_json::Value = serde_json::from_str(&text).context("the list's JSON")?;
        let rows = answer["rows"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(!rows.is_empty(), "page {page} has no rows: {text}");
        total = answer["total"]
            .as_u64()
            .context("the list's answer has no total")?;
        bodies.push(request);
        if u64::from(page + 1) * u64::from(PAGE_SIZE) >= total {
            break;
        }
        after = rows.last().and_then(|r| r["id"].as_i64());
    }
    Ok((total, bodies))
}

/// One wrk run of the table's server function; `label` names it in the report.
async fn wrk_run(
    app: &RunningApp,
    search: &str,
    label: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    let (total, bodies) = walk_pages(app, search).await?;
    println!(
        "P2 {label}: {total} matching rows, wrk cycles through {} pages …",
        bodies.len()
    );
    let url = format!("{}/api/rows/list", app.base_url);
    wrk_measure(vec![(lua_script(app, &bodies), url)], label, report).await
}

/// The pager run at once against several instances on one database (issue 22: P2 with two
/// instances): one wrk per instance, the connections and wrk threads shared out between them, so
/// the load is the single run's.
pub async fn run_on_instances(apps: &[&RunningApp], report: &mut Report) -> anyhow::Result<()> {
    if !wrk_installed() {
        return Ok(());
    }
    let (total, bodies) = walk_pages(apps[0], "").await?;
    let label = format!("active, by last name, {} instances", apps.len());
    println!(
        "P2 {label}: {total} matching rows, wrk cycles through {} pages …",
        bodies.len()
    );
    // Each instance checks the Origin against its own address.
    let runs = apps
        .iter()
        .map(|app| {
            (
                lua_script(app, &bodies),
                format!("{}/api/rows/list", app.base_url),
            )
        })
        .collect();
    wrk_measure(runs, &label, report).await
}

/// One wrk with `script` against `url`, `connections` and `threads` of it.
async fn wrk(
    script_text: String,
    url: String,
    connections: u32,
    threads: u32,
    seconds: u32,
) -> anyhow::Result<WrkResult> {
    let script = tempfile::Builder::new().suffix(".lua").tempfile()?;
    std::fs::write(script.path(), script_text)?;
    let args = [
        format!("-t{threads}"),
        format!("-c{connections}"),
        format!("-d{seconds}s"),
        "--latency".into(),
        "-s".into(),
        script.path().display().to_string(),
        url,
    ];
    // wrk blocks; the portal runs on this process's runtime meanwhile.
    let output = tokio::task::spawn_blocking(move || Command::new("wrk").args(&args).output())
        .await?
        .context("running wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    anyhow::ensure!(
        output.status.success(),
        "wrk failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(parse_wrk(&stdout))
}

/// Runs one wrk per (script, URL) at once, [`CONNECTIONS`] and [`THREADS`] shared out between
/// them, and reports their figures together under `label`: the rates and counts added up, the
/// highest p50 and p99 (the p99 of all requests lies between the runs' lowest and highest).
async fn wrk_measure(
    runs: Vec<(String, String)>,
    label: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    let seconds = crate::env_number("RA_BENCH_WRK_SECONDS", SECONDS);
    let n = runs.len() as u32;
    let (connections, threads) = (CONNECTIONS / n, (THREADS / n).max(1));
    let cpu_before = crate::report::process_cpu_seconds();
    let running: Vec<_> = runs
        .into_iter()
        .map(|(script, url)| tokio::spawn(wrk(script, url, connections, threads, seconds)))
        .collect();
    let mut results = Vec::new();
    for run in running {
        results.push(run.await??);
    }
    let cpu = crate::report::process_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let highest = |f: fn(&WrkResult) -> Option<f64>| {
        results
            .iter()
            .map(f)
            .try_fold(0.0_f64, |m, v| Some(m.max(v?)))
    };
    let result = WrkResult {
        p50_ms: highest(|r| r.p50_ms),
        p99_ms: highest(|r| r.p99_ms),
        requests_per_sec: results
            .iter()
            .map(|r| r.requests_per_sec)
            .sum::<Option<f64>>(),
        requests: results.iter().map(|r| r.requests).sum::<Option<u64>>(),
        non_2xx: results.iter().map(|r| r.non_2xx).sum(),
        socket_errors: results
            .iter()
            .filter_map(|r| r.socket_errors.clone())
            .reduce(|a, b| format!("{a}; {b}")),
    };
    let setting = if n == 1 {
        format!("{label}, {CONNECTIONS} conn., {THREADS} wrk threads, {seconds} s")
    } else {
        let thread = if threads == 1 { "thread" } else { "threads" };
        format!(
            "{label}, {CONNECTIONS} conn. in all: {n} wrk of {connections} conn. and {threads} {thread} each, \
             {seconds} s; the highest of their p99"
        )
    };
    match result.p99_ms {
        Some(p99) => report.push(Figure::checked(
            "P2",
            format!("p99 latency ({setting})"),
            ms(p99),
            format!("≤ {P99_TARGET_MS} ms"),
            p99 <= P99_TARGET_MS,
        )),
        None => report.push(Figure::not_measured(
            "P2",
            format!("p99 latency ({setting})"),
            "wrk printed no 99% line",
            format!("≤ {P99_TARGET_MS} ms"),
        )),
    }
    match result.requests_per_sec {
        Some(rate) => report.push(Figure::checked(
            "P2",
            format!("throughput ({label})"),
            format!("{rate:.0} req/s"),
            format!("≥ {RATE_TARGET} req/s"),
            rate >= RATE_TARGET && result.non_2xx == 0,
        )),
        None => report.push(Figure::not_measured(
            "P2",
            format!("throughput ({label})"),
            "wrk printed no Requests/sec line",
            format!("≥ {RATE_TARGET} req/s"),
        )),
    }
    let mut detail = format!(
        "p50 {}, {} requests",
        result.p50_ms.map_or("?".into(), ms),
        result.requests.map_or("?".into(), |r| r.to_string())
    );
    if result.non_2xx > 0 {
        detail.push_str(&format!(", {} NOT 2xx", result.non_2xx));
    }
    if let Some(errors) = &result.socket_errors {
        detail.push_str(&format!(", {errors}"));
    }
    // What each request cost the portal's process in CPU (all its threads, user + system): less
    // disturbed than the rates by other load on the machine.
    if let (Some(cpu), Some(requests)) = (cpu, result.requests.filter(|r| *r > 0)) {
        detail.push_str(&format!(
            ", portal CPU {:.2} ms/request",
            cpu * 1000.0 / requests as f64
        ));
    }
    report.push(Figure::info(
        "P2",
        format!("median and count ({label})"),
        detail,
    ));
    Ok(())
}

/// Which pages a sequential run of the list service asks for.
#[derive(Clone, Copy)]
enum Pages {
    /// Always this page, by its number.
    Fixed(u32),
    /// Cycles through the first pages of the result (at most [`MAX_PAGES`]) by their numbers, as
    /// after a reload of each.
    Cycle,
    /// Steps through the first pages as the pager does: each from the anchor of the one before.
    Stepped,
    /// The first page of a search for each last name of the seed in turn: some 120 searches,
    /// more than the portal keeps the matches of (64), so each finds its matching rows anew.
    NewSearches,
}

/// One sequential case of the list service: a label, the query (page left at 0) and its pages.
struct ServiceCase {
    label: &'static str,
    query: RowQuery,
    pages: Pages,
}

fn service_cases() -> Vec<ServiceCase> {
    let active_by_last_name = RowQuery {
        active: Some(true),
        sort: SortKey::LastName,
        page_size: PAGE_SIZE,
        ..RowQuery::default()
    };
    vec![
        ServiceCase {
            label: "unfiltered, by primary address, page 0",
            query: RowQuery {
                page_size: PAGE_SIZE,
                ..RowQuery::default()
            },
            pages: Pages::Fixed(0),
        },
        ServiceCase {
            label: "active, by last name, pages 0–199 stepped through with the pager",
            query: active_by_last_name.clone(),
            pages: Pages::Stepped,
        },
        ServiceCase {
            label: "active, by last name, pages 0–199 by number",
            query: active_by_last_name.clone(),
            pages: Pages::Cycle,
        },
        ServiceCase {
            label: "active, by last name, page 1000",
            query: active_by_last_name.clone(),
            pages: Pages::Fixed(1000),
        },
        ServiceCase {
            label: "active, by last name, search \"schmidt\", its pages stepped through",
            query: RowQuery {
                search: SEARCH.into(),
                ..active_by_last_name.clone()
            },
            pages: Pages::Stepped,
        },
        ServiceCase {
            label: "active, by last name, first page of a new search (each last name in turn; \
                    \"müller\" first)",
            query: RowQuery {
                search: "müller".into(),
                ..active_by_last_name
            },
            pages: Pages::NewSearches,
        },
        ServiceCase {
            label: "pending, by last name, its pages stepped through",
            query: RowQuery {
                state: Some(StateFilter::Pending),
                sort: SortKey::LastName,
                page_size: PAGE_SIZE,
                ..RowQuery::default()
            },
            pages: Pages::Stepped,
        },
    ]
}

/// The list service alone, sequentially, no HTTP: what one query costs.
async fn service_alone(
    portal: &Portal,
    case: ServiceCase,
    report: &mut Report,
) -> anyhow::Result<()> {
    let user = SessionUser {
        user_id: "nora".into(),
        given_name: "Nora".into(),
        family_name: "Bench".into(),
        email: None,
        groups: vec![crate::NAP_GROUP.into()],
        session_started_at: 0,
    };
    let viewer = backend::roles::Viewer::load(&portal.pool, user, &portal.config).await?;
    let mut query = case.query;
    let first = list_rows(
        &portal.pool,
        &portal.search_matches,
        &viewer,
        crate::DOMAIN,
        &query,
    )
    .await?;
    let pages = u32::try_from(first.total.div_ceil(u64::from(PAGE_SIZE)))
        .unwrap_or(MAX_PAGES)
        .clamp(1, MAX_PAGES);
    let mut times: Vec<Duration> = Vec::with_capacity(SERVICE_CALLS as usize);
    let mut last_row = None;
    for i in 0..SERVICE_CALLS {
        (query.page, query.anchor) = match case.pages {
            Pages::Fixed(page) => (page, None),
            Pages::Cycle => (i % pages, None),
            Pages::Stepped if i % pages == 0 => (0, None),
            Pages::Stepped => (i % pages, last_row.map(Anchor::After)),
            Pages::NewSearches => {
                let names = crate::seed::LAST_NAMES;
                query.search = names[i as usize % names.len()].to_lowercase();
                (0, None)
            }
        };
        let started = Instant::now();
        let page = list_rows(
            &portal.pool,
            &portal.search_matches,
            &viewer,
            crate::DOMAIN,
            &query,
        )
        .await?;
        times.push(started.elapsed());
        anyhow::ensure!(!page.rows.is_empty(), "page {} is empty", query.page);
        anyhow::ensure!(
            page.page == query.page,
            "page {} came back as {}",
            query.page,
            page.page
        );
        last_row = page.rows.last().map(|r| r.id);
    }
    times.sort();
    let mean = times.iter().sum::<Duration>().as_secs_f64() * 1000.0 / times.len() as f64;
    let p50 = times[times.len() / 2].as_secs_f64() * 1000.0;
    let p99 = times[times.len() * 99 / 100].as_secs_f64() * 1000.0;
    report.push(Figure::info(
        "P2",
        format!(
            "rows::list_rows alone, sequential ({}; {} matching)",
            case.label, first.total
        ),
        format!("mean {}, p50 {}, p99 {}", ms(mean), ms(p50), ms(p99)),
    ));
    Ok(())
}

/// Rows of the domain with a pending challenge, for the "pending" filter: every 50th row from the
/// 20 000th on (P3's selection, the first 10 000 active rows, stays untouched). Written as
/// `challenges::send_challenges` leaves them, less the mail (nothing is delivered meanwhile).
async fn add_pending_challenges(portal: &Portal) -> anyhow::Result<u64> {
    // A portal copied from the SQLite run (PostgreSQL, crate::postgres) has them already.
    let pending: i64 = backend::run!(portal.pool, ex => sqlx::query_scalar(
        "SELECT COUNT(*) FROM challenges WHERE state = 'pending'",
    )
    .fetch_one(ex)
    .await)?;
    if pending > 0 {
        return Ok(pending as u64);
    }
    let now = backend::clock::now();
    let mut tx = portal.pool.begin().await?;
    let done = backend::run!(tx, ex => sqlx::query(
        "INSERT INTO challenges (row_id, address, recipient, token_hash, state, created_at, expires_at)
         SELECT r.id, r.primary_address, COALESCE(r.applicant_address, r.primary_address),
                randomblob(32), 'pending', $1, $2 + 7 * 86400
         FROM mailbox_rows r
         WHERE r.id >= (SELECT MIN(id) FROM mailbox_rows) + 20000 AND r.id % 50 = 0 AND r.active = TRUE",
    )
    .bind(now)
    .bind(now)
    .execute(ex)
    .await.map(backend::storage::engine::Done::from))?;
    backend::run!(tx, ex => sqlx::query(
        "UPDATE mailbox_rows SET challenged = TRUE
         WHERE id IN (SELECT row_id FROM challenges WHERE state = 'pending')",
    )
    .execute(ex)
    .await.map(backend::storage::engine::Done::from))?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

// ---------------------------------------------------------------------------------------------
// The REST API's row list (R21, issue 20): the same table page through `/api/v1`
// ---------------------------------------------------------------------------------------------

/// The API's list of active rows by last name, 50 a page.
const API_LIST: &str = "/api/v1/domains/example.org/rows?active=true&sort=last_name&limit=50";

/// A read-only API token of the benchmark's NAP (whose session `RunningApp` started, so the
/// portal knows her groups).
async fn api_token(portal: &Portal) -> anyhow::Result<String> {
    let nora = backend::api_tokens::creator_viewer(portal, "nora", backend::clock::now())
        .await?
        .context("the NAP has no groups")?;
    let domain = nora
        .nap_domains
        .iter()
        .find(|d| d.name == crate::DOMAIN)
        .context("the NAP administers the domain")?
        .id;
    let token = backend::api_tokens::create_token(
        portal,
        &nora,
        &backend::api_tokens::TokenRequest {
            // The run on PostgreSQL has a copy of the SQLite run's token, under its name.
            name: if portal.pool.is_postgres() {
                "bench-postgres"
            } else {
                "bench"
            },
            domain_ids: &[domain],
            scope: domain::api_token::ApiScope::Read,
            days: 1,
        },
        "nora",
        backend::clock::now(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("making the API token: {e}"))?;
    Ok(token.expose().to_owned())
}

/// Pages through the API's list with its cursors, at most [`MAX_PAGES`] pages; returns how many
/// rows match and the request paths.
async fn walk_api_pages(app: &RunningApp, token: &str) -> anyhow::Result<(u64, Vec<String>)> {
    let client = reqwest::Client::new();
    let mut paths = vec![API_LIST.to_owned()];
    let mut total = 0;
    while paths.len() <= MAX_PAGES as usize {
        let path = paths.last().expect("one path at least").clone();
        let resp = client
            .get(format!("{}{path}", app.base_url))
            .bearer_auth(token)
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        anyhow::ensure!(status.is_success(), "GET {path} answered {status}: {text}");
        let answer: serde_json::Value = serde_json::from_str(&text).context("the list's JSON")?;
        anyhow::ensure!(
            answer["rows"]
                .as_array()
                .is_some_and(|r| r.len() == PAGE_SIZE as usize),
            "a page of the API's list is not full: {text:.200}"
        );
        total = answer["total"].as_u64().context("no total")?;
        match answer["next_cursor"].as_str() {
            Some(cursor) if paths.len() < MAX_PAGES as usize => {
                paths.push(format!("/api/v1/domains/example.org/rows?cursor={cursor}"))
            }
            _ => break,
        }
    }
    Ok((total, paths))
}

/// The wrk script of the API run: the bearer token, and the pages' paths it cycles through.
fn api_lua_script(token: &str, paths: &[String]) -> String {
    let list = paths
        .iter()
        .map(|p| format!("  [==[{p}]==],"))
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        r#"wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer {token}"
local paths = {{
{list}
}}
local n = 0
request = function()
  local path = paths[(n % #paths) + 1]
  n = n + 1
  return wrk.format(nil, path)
end
"#
    )
}

/// The API run: a script pages through the active rows by last name with its token.
async fn api_run(portal: &Portal, app: &RunningApp, report: &mut Report) -> anyhow::Result<()> {
    let token = api_token(portal).await?;
    let (total, paths) = walk_api_pages(app, &token).await?;
    let label = "REST API GET /api/v1/…/rows, active, by last name";
    println!(
        "P2 {label}: {total} matching rows, wrk cycles through {} pages …",
        paths.len()
    );
    let url = format!("{}{API_LIST}", app.base_url);
    wrk_measure(vec![(api_lua_script(&token, &paths), url)], label, report).await
}

pub async fn run(portal: &Portal, app: &RunningApp, report: &mut Report) -> anyhow::Result<()> {
    let pending = add_pending_challenges(portal).await?;
    println!("P2: {pending} rows with a pending challenge");
    for case in service_cases() {
        service_alone(portal, case, report).await?;
    }
    let runs = [
        ("active, by last name", ""),
        ("same + search \"schmidt\"", SEARCH),
    ];
    if !wrk_installed() {
        for (label, _) in runs {
            report.push(Figure::not_measured(
                "P2",
                format!("p99 latency / throughput ({label})"),
                "wrk is not installed (scripts/bench.sh installs it)",
                format!("≤ {P99_TARGET_MS} ms, ≥ {RATE_TARGET} req/s"),
            ));
        }
        return Ok(());
    }
    for (label, search) in runs {
        wrk_run(app, search, label, report).await?;
    }
    api_run(portal, app, report).await
}

fn wrk_installed() -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| Path::new(&dir).join("wrk").is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_output() {
        let out = "Running 15s test @ http://127.0.0.1:1/api/rows/list
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.12ms    2.01ms  30.00ms   70.00%
    Req/Sec     3.20k   200.00     3.50k    70.00%
  Latency Distribution
     50%  812.00us
     75%    6.00ms
     90%    7.50ms
     99%    1.20s
  96000 requests in 15.00s, 200.00MB read
  Non-2xx or 3xx responses: 5
Requests/sec:   6400.12
Transfer/sec:     13.33MB
";
        let r = parse_wrk(out);
        assert_eq!(r.p50_ms, Some(0.812));
        assert_eq!(r.p99_ms, Some(1200.0));
        assert_eq!(r.requests_per_sec, Some(6400.12));
        assert_eq!(r.requests, Some(96000));
        assert_eq!(r.non_2xx, 5);
    }
}
