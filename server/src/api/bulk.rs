//! `POST /api/v1/domains/{domain}/bulk`: many rows at once (SPEC R21, R8, §4) — a CSV file
//! (`text/csv`) or a JSON array of rows (`application/json`), upserted by primary address
//! through exactly the UI upload's path (`backend::csv_upload`): the same checks, the same
//! one-transaction apply, the same audit trail. A JSON array is first written as the file the
//! upload reads (`backend::bulk_rows`).
//!
//! `?dry_run=true` answers the preview and writes nothing. Otherwise the rows are applied, all or
//! nothing; with an `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header) a repeated
//! request gets the first answer and applies nothing (`backend::api_idempotency`). Errors in the
//! rows are one 422 problem listing each with its line and column (a JSON array: the element as
//! the line, counted from 1, and its field).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use backend::api_idempotency::{self, BulkOutcome, KeyedRequest};
use backend::bulk_rows::{self, RowsError, RowsFile};
use backend::csv_upload::{
    self, ApplyReport, FileError, LineError, LinePreview, LineStatus, Preview,
};
use backend::ServiceError;
use domain::message::Message;
use serde::{Deserialize, Serialize};
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::body::ApiPath;
use super::problem::{FieldProblem, Problem, ProblemKind};
use super::refusals::DomainNotFound;
use crate::app_state::AppState;
use crate::csv_routes::MAX_CSV_BYTES;

/// The request header of the draft.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Answer header: `true` when the answer is a stored one and nothing was applied now.
pub const IDEMPOTENCY_REPLAYED: HeaderName = HeaderName::from_static("idempotency-replayed");

/// The bulk route, with the upload's body limit (SPEC §4: 20 MiB) instead of the API's default.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(bulk))
        .layer(RequestBodyLimitLayer::new(MAX_CSV_BYTES))
        .layer(DefaultBodyLimit::max(MAX_CSV_BYTES))
}

/// The query: only `dry_run`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BulkQuery {
    /// `true`: answer the preview (what applying would do) and write nothing.
    #[serde(default)]
    pub dry_run: Option<bool>,
}

/// One row of a JSON array body. Fields left out of every element are columns the file does not
/// have (an existing row keeps them); every element must name the same fields (one that leaves out
/// a field another names is refused, as its empty cell would clear the field); `null` empties a
/// text field.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRow {
    /// The row's primary address: the key of the upsert.
    pub primary_address: String,
    /// First name (empty on a functional row).
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name; on a functional row the mailbox's name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Further sender addresses (at most 50).
    #[serde(default)]
    pub aliases: Option<Vec<String>>,
    /// `personal` (default for a new row) or `functional`.
    #[serde(default)]
    pub mailbox_type: Option<String>,
    /// Who receives a functional row's challenges.
    #[serde(default)]
    pub applicant_address: Option<String>,
    /// The NAP's note.
    #[serde(default)]
    pub comment: Option<String>,
    /// Whether the row is active (default for a new row: true).
    #[serde(default)]
    pub active: Option<bool>,
}

/// What a line of the preview does.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BulkLine {
    /// The line (CSV: physical line, header = 1; JSON: element, first = 1).
    pub line: u64,
    /// The primary address.
    pub primary_address: String,
    /// `new` or `changed` (unchanged lines are only counted).
    pub status: String,
    /// The fields that change: `[field, before, after]`.
    pub changes: Vec<BulkChange>,
    /// Pending challenges saving supersedes (R4, R5).
    pub supersedes: u64,
    /// Addresses whose link saving drops (R4, R5).
    pub drops_links: Vec<String>,
}

/// A field a line changes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BulkChange {
    /// The field (CSV column name in English).
    pub field: String,
    /// Stored value (empty for a new row).
    pub before: String,
    /// Value after applying.
    pub after: String,
}

/// `?dry_run=true`: what applying would do; nothing was written.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BulkPreview {
    /// The domain.
    pub domain: String,
    /// Identifies the file and the state of the rows it touches.
    pub fingerprint: String,
    /// Lines that would create a row.
    pub new: u64,
    /// Lines that would change a row.
    pub changed: u64,
    /// Lines equal to their row.
    pub unchanged: u64,
    /// Pending challenges that would be superseded in all.
    pub supersedes: u64,
    /// Links that would be dropped in all.
    pub drops_links: u64,
    /// New and changed lines.
    pub lines: Vec<BulkLine>,
    /// Primary addresses of the domain's rows the input leaves alone (nothing is deleted).
    pub missing: Vec<String>,
}

/// The answer: a preview for a dry run, else the apply's report.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum BulkAnswer {
    /// `?dry_run=true`.
    Preview(BulkPreview),
    /// Applied (or replayed).
    Applied(ApplyReport),
}

/// Upsert many rows at once: a CSV file or a JSON array of rows.
///
/// The file is what the upload page takes (SPEC §4); a JSON array is read as that file.
/// `?dry_run=true` previews; otherwise all rows are applied in one transaction or none
/// (any error: 422 listing each with line and column). `Idempotency-Key: "<unique string>"`
/// makes a repeated request answer the first answer and apply nothing; the same key with another
/// body is 422. Keys are per token and kept 24 hours.
#[utoipa::path(
    post,
    path = "/domains/{domain}/bulk",
    tag = "bulk",
    params(
        ("domain" = String, Path, description = "The domain's name"),
        BulkQuery,
        ("Idempotency-Key" = Option<String>, Header,
         description = "A unique string (RFC 8941 string, e.g. \"8e03978e-40d5-43e8-bc93-6894a57f9324\"); max 255 printable ASCII characters"),
    ),
    request_body(
        description = "A CSV file (header line; columns as SPEC §4, English or German) or a JSON array of rows",
        content(
            (String = "text/csv"),
            (Vec<BulkRow> = "application/json"),
        ),
    ),
    responses(
        (status = 200, description = "The preview (dry run) or what was applied", body = BulkAnswer),
        (status = 400, description = "Unreadable request (query, Idempotency-Key, JSON)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token applying", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Rows changed while planning", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 20 MiB or 200 000 rows", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither text/csv nor application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rows that break the rules (each with line and column), or an Idempotency-Key used before with another request", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The rate limit of the token's creator (all their tokens share it)", body = Problem, content_type = "application/problem+json"),
        DomainNotFound,
    ),
)]
pub async fn bulk(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(domain): ApiPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match run(
        &state.portal,
        &caller,
        &domain,
        query.as_deref(),
        &headers,
        &body,
    )
    .await
    {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}

/// What the body is.
enum Input {
    Csv,
    Json(RowsFile),
}

async fn run(
    portal: &backend::Portal,
    caller: &Caller,
    domain: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, Problem> {
    let dry_run = dry_run(query)?;
    let record = caller.domain(domain)?;
    let domain = record.name.clone();
    // A read-only token's apply is refused before its body is looked at.
    let writer = if dry_run {
        None
    } else {
        Some(caller.writer()?)
    };
    let media_type = media_type(headers)?;
    let key = match headers.get(IDEMPOTENCY_KEY) {
        Some(v) => Some(
            api_idempotency::parse_key(v.as_bytes())
                .map_err(|e| Problem::bad_request(upper_first(&e.to_string())))?,
        ),
        None => None,
    };
    let input = if media_type == "application/json" {
        Input::Json(bulk_rows::rows_as_file(body).map_err(rows_problem)?)
    } else {
        Input::Csv
    };
    // The file the upload's path reads: the body itself, or the array written as one.
    let file: &[u8] = match &input {
        Input::Csv => body,
        Input::Json(rows) => &rows.bytes,
    };
    // A large body's buffers go back to the system after the plan (as the UI upload does).
    crate::memory::give_back_freed();
    let answer = if dry_run {
        let preview = csv_upload::preview(&portal.pool, caller.viewer(), &domain, file)
            .await
            .map_err(|e| upload_problem(e, &input))?;
        if !preview.errors.is_empty() {
            return Err(invalid(preview.errors, &input));
        }
        let answer = Json(BulkAnswer::Preview(preview_answer(preview, &input))).into_response();
        crate::memory::give_back_freed();
        return Ok(answer);
    } else {
        let viewer = writer.expect("checked above for an apply");
        let path = format!("/domains/{domain}/bulk");
        let hash = api_idempotency::request_hash("POST", &path, media_type, body);
        let keyed = key.as_deref().map(|key| KeyedRequest {
            token_id: caller.0.token_id,
            key,
            request_hash: &hash,
        });
        api_idempotency::apply_once(&portal.pool, viewer, &domain, file, keyed)
            .await
            .map_err(|e| upload_problem(e, &input))?
    };
    crate::memory::give_back_freed();
    match answer {
        BulkOutcome::Applied(report) => Ok(Json(BulkAnswer::Applied(report)).into_response()),
        BulkOutcome::Replayed(report) => {
            let mut response = Json(BulkAnswer::Applied(report)).into_response();
            response
                .headers_mut()
                .insert(IDEMPOTENCY_REPLAYED, HeaderValue::from_static("true"));
            Ok(response)
        }
        BulkOutcome::KeyReused => Err(Problem::new(
            ProblemKind::Unprocessable,
            "This Idempotency-Key was used before with another request (another body, media \
             type or domain); nothing was applied. Use a new key for a new request.",
        )
        .with_errors(vec![FieldProblem::new(
            "Idempotency-Key",
            "used before with another request",
        )])),
    }
}

/// `dry_run=true|false` or nothing; anything else is a 400 that says what to write (Q9).
fn dry_run(query: Option<&str>) -> Result<bool, Problem> {
    let mut value = None;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("dry_run", "true")) if value.is_none() => value = Some(true),
            Some(("dry_run", "false")) if value.is_none() => value = Some(false),
            _ => {
                return Err(Problem::bad_request(
                    "The bulk endpoint takes one query parameter: dry_run=true or dry_run=false.",
                ))
            }
        }
    }
    Ok(value.unwrap_or(false))
}

/// `text/csv` or `application/json` (parameters such as `charset` aside: the file's encoding is
/// detected as for an upload); else 415.
fn media_type(headers: &HeaderMap) -> Result<&'static str, Problem> {
    let sent = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    match sent.as_deref() {
        Some("text/csv") => Ok("text/csv"),
        Some("application/json") => Ok("application/json"),
        other => Err(Problem::new(
            ProblemKind::UnsupportedMediaType,
            format!(
                "The bulk endpoint takes a CSV file (Content-Type: text/csv) or a JSON array of \
                 rows (Content-Type: application/json), not {}.",
                other.unwrap_or("a body without Content-Type")
            ),
        )),
    }
}

fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

/// Line errors as one 422 problem: CSV errors at their line and column (named by the header
/// cell), JSON errors at their element (line = index + 1) and field.
fn invalid(errors: Vec<LineError>, input: &Input) -> Problem {
    let count = errors.len();
    let list = errors
        .into_iter()
        .map(|e| match input {
            Input::Csv => FieldProblem::new(
                e.column
                    .as_ref()
                    .map_or_else(String::new, |c| c.name.clone()),
                e.message.to_string(),
            )
            .at(e.line as u64, e.column.as_ref().map(|c| c.number as u64)),
            Input::Json(rows) => {
                let (index, field) = rows.locate(&e);
                let problem = FieldProblem::new(field.unwrap_or_default(), e.message.to_string());
                match index {
                    Some(i) => problem.at(i as u64 + 1, None),
                    None => problem,
                }
            }
        })
        .collect();
    Problem::new(
        ProblemKind::Unprocessable,
        format!(
            "The input has {count} error(s), so nothing was applied; `errors` names each with \
             its line and column. Correct them and send it again."
        ),
    )
    .with_errors(list)
}

/// The upload's refusals as problems: line errors at their lines (see [`invalid`]), the file's
/// own problems at the line (and column) they name; the rest as every API refusal.
fn upload_problem(e: ServiceError, input: &Input) -> Problem {
    match e {
        ServiceError::Invalid(Message::FileHasErrors { errors }) => invalid(errors, input),
        ServiceError::Invalid(Message::File(file))
        | ServiceError::TooLarge(Message::File(file)) => file_problem(file),
        ServiceError::NotFound(_) => Problem::no_such_domain(),
        // Applied without a preview under one write lock, nothing can change in between; kept
        // for completeness: the rows changed, send again.
        ServiceError::ChangedMeanwhile(m, _) => {
            Problem::new(ProblemKind::Conflict, upper_first(&m.to_string()))
        }
        other => Problem::from(other),
    }
}

fn file_problem(e: FileError) -> Problem {
    let detail = upper_first(&e.to_string());
    match e {
        FileError::TooLarge { .. } | FileError::TooManyLines { .. } => {
            Problem::new(ProblemKind::TooLarge, detail)
        }
        FileError::UnclosedQuote {
            line,
            cell,
            ref column_name,
            ..
        } => {
            let field = column_name.clone().unwrap_or_default();
            Problem::new(ProblemKind::Unprocessable, detail.clone()).with_errors(vec![
                FieldProblem::new(field, detail).at(line as u64, Some(cell as u64)),
            ])
        }
        FileError::Columns { line, .. } => Problem::new(ProblemKind::Unprocessable, detail.clone())
            .with_errors(vec![FieldProblem::new("", detail).at(line as u64, None)]),
        _ => Problem::new(ProblemKind::Unprocessable, detail),
    }
}

fn rows_problem(e: RowsError) -> Problem {
    let detail = upper_first(&e.to_string());
    match e {
        RowsError::NotAnArray(_) => Problem::bad_request(detail),
        RowsError::TooMany(_) => Problem::new(ProblemKind::TooLarge, detail),
        RowsError::Empty => Problem::new(ProblemKind::Unprocessable, detail),
        RowsError::Elements(list) => Problem::new(ProblemKind::Unprocessable, detail).with_errors(
            list.into_iter()
                .map(|e| {
                    FieldProblem::new(e.field.unwrap_or_default(), e.message)
                        .at(e.index as u64 + 1, None)
                })
                .collect(),
        ),
    }
}

fn preview_answer(p: Preview, input: &Input) -> BulkPreview {
    let line_of = |line: usize| match input {
        Input::Csv => line as u64,
        Input::Json(rows) => rows
            .lines
            .binary_search(&line)
            .map_or(line as u64, |i| i as u64 + 1),
    };
    BulkPreview {
        fingerprint: p.fingerprint,
        new: p.new as u64,
        changed: p.changed as u64,
        unchanged: p.unchanged as u64,
        supersedes: p.supersedes as u64,
        drops_links: p.drops_links as u64,
        lines: p
            .lines
            .into_iter()
            .filter(LinePreview::writes)
            .map(|l| BulkLine {
                line: line_of(l.line),
                primary_address: l.primary,
                status: if l.status == LineStatus::New {
                    "new"
                } else {
                    "changed"
                }
                .into(),
                changes: l
                    .changes
                    .into_iter()
                    .map(|c| BulkChange {
                        field: csv_upload::Column::of_field(c.field).english().into(),
                        before: c.before,
                        after: c.after,
                    })
                    .collect(),
                supersedes: l.supersedes as u64,
                drops_links: l.drops_links,
            })
            .collect(),
        missing: p.missing,
        domain: p.domain,
    }
}
