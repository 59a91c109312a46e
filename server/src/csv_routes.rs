//! The CSV upload and download of a domain's table (SPEC §4), as plain routes: the file travels as
//! raw bytes (up to 20 MiB), not re-encoded for a server function.
//!
//! `POST /domains/{domain}/csv/preview` → what applying would do; nothing is written.
//! `POST /domains/{domain}/csv/apply` (header `x-preview-fingerprint`) → all or nothing.
//! `GET  /domains/{domain}/csv` → the table in the same format; `?format=excel-de` → the same
//! table for Excel on a German Windows (semicolons, German header and values).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use backend::csv_upload::{self, DownloadFormat, LinePreview};
use domain::csv::FINGERPRINT_HEADER;

use crate::refusal::refuse;
use backend::roles::Viewer;
use backend::Portal;

/// Largest file accepted (SPEC §4: 20 MiB), with room for nothing else.
pub const MAX_CSV_BYTES: usize = 20 * 1024 * 1024;

fn please_log_in() -> Response {
    (StatusCode::UNAUTHORIZED, "Please log in.").into_response()
}

/// What applying the file would do.
pub async fn preview(
    State(portal): State<Portal>,
    viewer: Option<Extension<Viewer>>,
    Path(domain): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(Extension(viewer)) = viewer else {
        return please_log_in();
    };
    // What earlier requests left (the last preview's answer, say) is free by now.
    crate::memory::give_back_freed();
    let response = match csv_upload::preview(&portal.pool, &viewer, &domain, &body).await {
        // The page lists only the lines that write (a 100 000-line file of unchanged rows answers
        // the counts, not every line), each with only the consequences it shows.
        Ok(mut p) => {
            p.lines.retain(LinePreview::writes);
            for line in &mut p.lines {
                if line.shown_consequences().is_empty() {
                    line.consequences.clear();
                }
            }
            Json(p).into_response()
        }
        Err(e) => refuse(&headers, e),
    };
    // The plan is gone; only the answer is left. The apply that follows starts from here.
    crate::memory::give_back_freed();
    response
}

/// Applies the previewed file, all or nothing.
pub async fn apply(
    State(portal): State<Portal>,
    viewer: Option<Extension<Viewer>>,
    Path(domain): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(Extension(viewer)) = viewer else {
        return please_log_in();
    };
    let Some(fingerprint) = headers
        .get(FINGERPRINT_HEADER)
        .and_then(|v| v.to_str().ok())
    else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Preview the file first: the apply request names no preview.",
        )
            .into_response();
    };
    crate::memory::give_back_freed();
    let response = match csv_upload::apply(&portal.pool, &viewer, &domain, &body, fingerprint).await
    {
        Ok(r) => Json(r).into_response(),
        Err(e) => refuse(&headers, e),
    };
    crate::memory::give_back_freed();
    response
}

/// The download format a query string names: none, `format=standard` or `format=excel-de`.
/// Read by hand rather than by axum's `Query`, so that every refusal says what to write (Q9): an
/// unknown or repeated parameter is a 400, an unknown format a 422 (as for certificate files).
fn download_format(query: Option<&str>) -> Result<DownloadFormat, (StatusCode, String)> {
    let formats = format!(
        "format={} or format={}",
        DownloadFormat::Standard.name(),
        DownloadFormat::GermanExcel.name()
    );
    let mut format = None;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let value = match pair.split_once('=') {
            Some(("format", value)) if format.is_none() => value,
            _ => {
                return Err((
                    StatusCode::BAD_REQUEST,
                    format!("The download takes one option: {formats}."),
                ))
            }
        };
        match DownloadFormat::from_name(value) {
            Some(f) => format = Some(f),
            None => {
                return Err((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("Unknown download format; use {formats}."),
                ))
            }
        }
    }
    Ok(format.unwrap_or_default())
}

/// The table as a CSV file.
pub async fn download(
    State(portal): State<Portal>,
    viewer: Option<Extension<Viewer>>,
    Path(domain): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some(Extension(viewer)) = viewer else {
        return please_log_in();
    };
    let format = match download_format(query.as_deref()) {
        Ok(f) => f,
        Err(refusal) => return refusal.into_response(),
    };
    match csv_upload::download_as(&portal.pool, &viewer, &domain, format).await {
        Ok(csv) => {
            let mut file = domain.replace(
                |c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-',
                "_",
            );
            if format == DownloadFormat::GermanExcel {
                file.push_str("-excel-de");
            }
            (
                [
                    (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{file}.csv\""),
                    ),
                ],
                csv,
            )
                .into_response()
        }
        Err(e) => refuse(&headers, e),
    }
}
