//! Operations: `GET /metrics` in the Prometheus text format, and the middleware that counts HTTP
//! requests for it.
//!
//! HTTP series are kept in memory, labelled by the *route template* axum matched
//! (`/confirm/{token}`), never by the path itself: paths carry challenge tokens (Q6) and would make
//! the label set unbounded. The portal's own numbers (outbox, certificates, sessions) are read from
//! the database at scrape time with a handful of `COUNT`s — cheap: the outbox count walks the
//! `mail_outbox_due` index, the others count small tables (sessions are purged hourly) or their
//! primary key — so they are always right, also after a restart, and need no bookkeeping in the
//! use cases.
//!
//! Who may read it: only the local host (the connection comes from a loopback address) and only
//! directly, not through a reverse proxy (the request has no `Forwarded`, `X-Forwarded-For` or
//! `X-Real-IP` header). A Prometheus on the same machine scrapes it as is; one elsewhere goes
//! through an SSH tunnel or a local agent. A proxy on the same host that forwards without such a
//! header would make it public — block `/metrics` there. The series hold counts only, no
//! addresses, names or tokens.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use backend::Portal;

/// Upper bounds (seconds) of the latency histogram's buckets.
const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The route label of requests no route matched (static files, unknown paths).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Requests served so far, by method, route template and status class, with their latency
/// (until the response head; streamed bodies are not waited for).
#[derive(Debug, Default)]
pub struct HttpMetrics {
    series: Mutex<BTreeMap<SeriesKey, Latencies>>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SeriesKey {
    method: &'static str,
    route: String,
    status: &'static str,
}

#[derive(Debug, Default)]
struct Latencies {
    /// Per bucket of [`LATENCY_BUCKETS`], not cumulative; rendered cumulatively.
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

impl HttpMetrics {
    /// Counts one request.
    pub fn observe(&self, method: &Method, route: &str, status: StatusCode, latency: Duration) {
        let key = SeriesKey {
            method: method_label(method),
            route: route.to_owned(),
            status: status_class(status),
        };
        let seconds = latency.as_secs_f64();
        let mut series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let entry = series.entry(key).or_default();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|&le| seconds <= le) {
            entry.buckets[i] += 1;
        }
        entry.count += 1;
        entry.sum_seconds += seconds;
    }

    fn render(&self, out: &mut String) {
        let series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        out.push_str(
            "# HELP ra_portal_http_requests_total HTTP requests answered, by method, route template and status class.\n\
             # TYPE ra_portal_http_requests_total counter\n",
        );
        for (key, l) in series.iter() {
            let _ = writeln!(
                out,
                "ra_portal_http_requests_total{{{}}} {}",
                key.labels(),
                l.count
            );
        }
        out.push_str(
            "# HELP ra_portal_http_request_duration_seconds Time until the response head was ready.\n\
             # TYPE ra_portal_http_request_duration_seconds histogram\n",
        );
        for (key, l) in series.iter() {
            let labels = key.labels();
            let mut cumulative = 0;
            for (le, n) in LATENCY_BUCKETS.iter().zip(l.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "ra_portal_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "ra_portal_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
                 ra_portal_http_request_duration_seconds_sum{{{labels}}} {}\n\
                 ra_portal_http_request_duration_seconds_count{{{labels}}} {}",
                l.count, l.sum_seconds, l.count
            );
        }
    }
}

impl SeriesKey {
    fn labels(&self) -> String {
        format!(
            "method=\"{}\",route=\"{}\",status=\"{}\"",
            self.method,
            escape_label(&self.route),
            self.status
        )
    }
}

/// The standard methods by name; anything else is `other`, so a client cannot invent labels.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// A label value as the text format wants it (route templates hold no such characters, but a
/// future one might).
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The route template of a request, or [`UNMATCHED_ROUTE`]; never the path itself (Q6).
pub fn route_template(request: &Request) -> &str {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
}

/// Middleware: counts every request into [`HttpMetrics`].
pub async fn track_requests(
    State(metrics): State<Arc<HttpMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let route = route_template(&request).to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.observe(&method, &route, response.status(), started.elapsed());
    response
}

/// Whether a request may read `/metrics`: it comes straight from the local host (see the module
/// documentation). `peer` is `None` when the server was not started with connection info.
pub fn may_read_metrics(peer: Option<SocketAddr>, headers: &HeaderMap) -> bool {
    let from_loopback = peer.is_some_and(|p| match p.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        // `::ffff:127.0.0.1` is how a dual-stack listener sees a local IPv4 client.
        IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    });
    let forwarded = ["forwarded", "x-forwarded-for", "x-real-ip"]
        .iter()
        .any(|name| headers.contains_key(*name));
    from_loopback && !forwarded
}

/// The portal's numbers as the database has them now.
struct PortalCounts {
    mails_queued: i64,
    mails_sent: i64,
    mails_failed: i64,
    certificates_issued: i64,
    certificates_revoked: i64,
    sessions_active: i64,
    instances_alive: i64,
}

async fn read_portal_counts(portal: &Portal, now: i64) -> sqlx::Result<PortalCounts> {
    let mut conn = portal.pool.acquire().await?;
    let by_state: Vec<(String, i64)> = backend::run!(conn, ex => sqlx::query_as("SELECT state, COUNT(*) FROM mail_outbox GROUP BY state")
            .fetch_all(ex)
            .await)?;
    let mail = |state: &str| {
        by_state
            .iter()
            .find(|(s, _)| s == state)
            .map_or(0, |(_, n)| *n)
    };
    let (certificates_issued, certificates_revoked): (i64, i64) = backend::run!(conn, ex => sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM certificates), (SELECT COUNT(*) FROM revocations)",
    )
    .fetch_one(ex)
    .await)?;
    // Active as the session check sees it: neither idle too long nor past either end (Q2).
    let session = &portal.config.session;
    let sessions_active: i64 = backend::run!(conn, ex => sqlx::query_scalar(
        "SELECT COUNT(*) FROM sessions WHERE expires_at > $1 AND last_seen_at > $2 AND created_at > $3",
    )
    .bind(now)
    .bind(now - i64::from(session.idle_minutes) * 60)
    .bind(now - i64::from(session.absolute_hours) * 3600)
    .fetch_one(ex)
    .await)?;
    // As the outbox worker judges them: a sign of life within the instance timeout.
    let timeout = i64::try_from(portal.config.mail.instance_timeout_secs).unwrap_or(i64::MAX);
    let instances_alive: i64 = backend::run!(conn, ex => sqlx::query_scalar("SELECT COUNT(*) FROM portal_instances WHERE beat_at >= $1")
            .bind(now.saturating_sub(timeout))
            .fetch_one(ex)
            .await)?;
    Ok(PortalCounts {
        instances_alive,
        mails_queued: mail("queued"),
        mails_sent: mail("sent"),
        mails_failed: mail("failed"),
        certificates_issued,
        certificates_revoked,
        sessions_active,
    })
}

/// One metric without labels, with its help and type lines.
fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

/// `GET /metrics`: refused (403) unless [`may_read_metrics`].
pub async fn metrics(
    State(portal): State<Portal>,
    State(http): State<Arc<HttpMetrics>>,
    request: Request,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if !may_read_metrics(peer, request.headers()) {
        return (
            StatusCode::FORBIDDEN,
            "metrics are served to the local host only\n",
        )
            .into_response();
    }
    let now = backend::clock::now();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP ra_portal_build_info The running portal's version.\n\
         # TYPE ra_portal_build_info gauge\n\
         ra_portal_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    http.render(&mut out);
    single(
        &mut out,
        "ra_portal_outbox_worker_heartbeat_timestamp_seconds",
        "gauge",
        "When the outbox worker last showed a sign of life (Unix time).",
        portal.outbox_heartbeat.last_beat(),
    );
    match read_portal_counts(&portal, now).await {
        Ok(c) => {
            single(
                &mut out,
                "ra_portal_database_up",
                "gauge",
                "Whether the database answered this scrape.",
                1,
            );
            single(
                &mut out,
                "ra_portal_outbox_queued_mails",
                "gauge",
                "Mails in the outbox waiting for (another) delivery attempt.",
                c.mails_queued,
            );
            single(
                &mut out,
                "ra_portal_mails_sent_total",
                "counter",
                "Mails the relay accepted.",
                c.mails_sent,
            );
            single(
                &mut out,
                "ra_portal_mails_failed_total",
                "counter",
                "Mails given up (refused for good or too many attempts).",
                c.mails_failed,
            );
            single(
                &mut out,
                "ra_portal_certificates_issued_total",
                "counter",
                "Certificates issued.",
                c.certificates_issued,
            );
            single(
                &mut out,
                "ra_portal_certificates_revoked_total",
                "counter",
                "Certificates revoked.",
                c.certificates_revoked,
            );
            single(
                &mut out,
                "ra_portal_sessions_active",
                "gauge",
                "Login sessions neither expired nor idle too long.",
                c.sessions_active,
            );
            single(
                &mut out,
                "ra_portal_instances_alive",
                "gauge",
                "Portal instances on this database that showed a sign of life within mail.instance_timeout_secs.",
                c.instances_alive,
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics: cannot read the portal's counts");
            single(
                &mut out,
                "ra_portal_database_up",
                "gauge",
                "Whether the database answered this scrape.",
                0,
            );
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(addr: &str) -> Option<SocketAddr> {
        Some(addr.parse().unwrap())
    }

    #[test]
    fn metrics_are_for_direct_local_clients_only() {
        let none = HeaderMap::new();
        assert!(may_read_metrics(peer("127.0.0.1:5000"), &none));
        assert!(may_read_metrics(peer("[::1]:5000"), &none));
        assert!(may_read_metrics(peer("[::ffff:127.0.0.1]:5000"), &none));
        assert!(!may_read_metrics(peer("192.0.2.7:5000"), &none));
        assert!(!may_read_metrics(peer("[2001:db8::1]:5000"), &none));
        assert!(!may_read_metrics(peer("[::ffff:192.0.2.7]:5000"), &none));
        assert!(!may_read_metrics(None, &none));
    }

    #[test]
    fn metrics_are_refused_through_a_local_reverse_proxy() {
        for name in ["forwarded", "x-forwarded-for", "x-real-ip"] {
            let mut headers = HeaderMap::new();
            headers.insert(name, "192.0.2.7".parse().unwrap());
            assert!(
                !may_read_metrics(peer("127.0.0.1:5000"), &headers),
                "{name}"
            );
        }
    }

    #[test]
    fn requests_are_counted_by_template_and_status_class_with_a_cumulative_histogram() {
        let m = HttpMetrics::default();
        let route = "/confirm/{token}";
        m.observe(
            &Method::GET,
            route,
            StatusCode::OK,
            Duration::from_millis(3),
        );
        m.observe(
            &Method::GET,
            route,
            StatusCode::NOT_FOUND,
            Duration::from_millis(3),
        );
        m.observe(
            &Method::GET,
            route,
            StatusCode::OK,
            Duration::from_millis(300),
        );
        m.observe(
            &Method::from_bytes(b"BREW").unwrap(),
            "/",
            StatusCode::OK,
            Duration::ZERO,
        );
        let mut out = String::new();
        m.render(&mut out);
        let labels = r#"method="GET",route="/confirm/{token}",status="2xx""#;
        for line in [
            format!("ra_portal_http_requests_total{{{labels}}} 2"),
            r#"ra_portal_http_requests_total{method="GET",route="/confirm/{token}",status="4xx"} 1"#.into(),
            r#"ra_portal_http_requests_total{method="other",route="/",status="2xx"} 1"#.into(),
            format!("ra_portal_http_request_duration_seconds_bucket{{{labels},le=\"0.005\"}} 1"),
            format!("ra_portal_http_request_duration_seconds_bucket{{{labels},le=\"0.25\"}} 1"),
            format!("ra_portal_http_request_duration_seconds_bucket{{{labels},le=\"0.5\"}} 2"),
            format!("ra_portal_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 2"),
            format!("ra_portal_http_request_duration_seconds_count{{{labels}}} 2"),
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line} in\n{out}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
