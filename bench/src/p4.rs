//! P4, the part measured from the server: the table page rendered by the server in ≤ 50 ms
//! (`GET /domains/example.org` as the NAP, once warm: the mean of sequential requests). The
//! bundle size and the time to interactive in headless chromium belong here too, as further
//! figures of this section.

use std::time::Instant;

use crate::app::RunningApp;
use crate::report::{ms, Figure, Report};

const WARM_UP: u32 = 5;
const REQUESTS: u32 = 50;
const TARGET_MS: f64 = 50.0;

pub async fn run(app: &RunningApp, report: &mut Report) -> anyhow::Result<()> {
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
