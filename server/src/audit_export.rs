//! `GET /domains/{domain}/audit.csv`: a domain's audit trail as a CSV file, for its NAPs (R16).

use app::pages::audit::AuditQuery;
use app::time_zone::ViewerZone;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use backend::roles::Viewer;
use backend::rows::{audit_csv, list_audit};
use backend::Portal;

/// At most this many records go into one file.
const MAX_RECORDS: u32 = 100_000;

/// The CSV download; the filters are those of the audit page.
pub async fn audit_csv_download(
    State(portal): State<Portal>,
    viewer: Option<Extension<Viewer>>,
    Path(domain): Path<String>,
    Query(query): Query<AuditQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(Extension(viewer)) = viewer else {
        return (StatusCode::UNAUTHORIZED, "Please log in.").into_response();
    };
    // The days of the filter are those of the page: days of the viewer's time zone.
    let zone = ViewerZone::of_headers(&headers);
    let filter = match app::pages::audit::filter::to_filter(&query, MAX_RECORDS, &zone) {
        Ok(f) => f,
        Err(e) => return (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).into_response(),
    };
    match list_audit(&portal.pool, &viewer, &domain, &filter).await {
        Ok(entries) => {
            let file = format!(
                "audit-{}.csv",
                domain.replace(
                    |c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-',
                    "_"
                )
            );
            (
                [
                    (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{file}\""),
                    ),
                ],
                audit_csv(&entries),
            )
                .into_response()
        }
        Err(e) => crate::refusal::refuse(&headers, e),
    }
}
