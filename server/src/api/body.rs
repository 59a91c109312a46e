//! What a request brings besides its token: a JSON body, query parameters, path segments and
//! `If-Match`, each read here so that anything malformed is a problem saying what is wrong (Q9:
//! 400, 413, 415, 422, 428 — never a 500), in the API's one error format.

use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, IF_MATCH};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;

use super::problem::{Problem, ProblemKind};

/// The largest JSON body of the API's single-resource calls (bulk has its own limit).
pub const MAX_JSON_BYTES: usize = 256 * 1024;

/// Reads a JSON body of at most `limit` bytes: `application/json` (or `+json`) only (415),
/// within the limit (413), well-formed (400), of the expected shape (422). With `empty_is` a
/// body that is absent (no bytes, no type) stands for that value.
pub async fn read_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    empty_is: Option<T>,
) -> Result<T, Problem> {
    let media = headers.get(CONTENT_TYPE).map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    let too_large = || {
        Problem::new(
            ProblemKind::TooLarge,
            format!(
                "The body is larger than the {} KiB this call takes.",
                limit / 1024
            ),
        )
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let bytes: Bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        if e.into_inner().is::<http_body_util::LengthLimitError>() {
            too_large()
        } else {
            Problem::bad_request("The request body could not be read.")
        }
    })?;
    if bytes.is_empty() && media.is_none() {
        if let Some(value) = empty_is {
            return Ok(value);
        }
    }
    match media.as_deref() {
        Some("application/json") => {}
        Some(m) if m.starts_with("application/") && m.ends_with("+json") => {}
        Some(other) => {
            return Err(Problem::new(
                ProblemKind::UnsupportedMediaType,
                format!("The body must be application/json, not {other}."),
            ))
        }
        None => {
            return Err(Problem::new(
                ProblemKind::UnsupportedMediaType,
                "The request names no Content-Type; the body must be application/json.",
            ))
        }
    }
    // Well-formed first (400), then the shape (422): a full parse also refuses lone surrogates.
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        Problem::bad_request(if bytes.is_empty() {
            "The request body is empty; it must be JSON.".to_string()
        } else {
            format!("The request body is not valid JSON: {e}.")
        })
    })?;
    serde_json::from_value(value).map_err(|e| {
        Problem::new(
            ProblemKind::Unprocessable,
            format!("The JSON body does not fit this call: {e}."),
        )
    })
}

/// A JSON body as a handler argument ([`read_json`] with [`MAX_JSON_BYTES`]).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, _: &S) -> Result<Self, Problem> {
        let (parts, body) = req.into_parts();
        read_json(&parts.headers, body, MAX_JSON_BYTES, None)
            .await
            .map(ApiJson)
    }
}

/// A JSON body that may be left out (then `T::default()`).
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default + Send> FromRequest<S> for OptionalJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, _: &S) -> Result<Self, Problem> {
        let (parts, body) = req.into_parts();
        read_json(&parts.headers, body, MAX_JSON_BYTES, Some(T::default()))
            .await
            .map(OptionalJson)
    }
}

/// Query parameters; what cannot be read is a 400 naming the parameter.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| {
                Problem::bad_request(format!(
                    "The query string cannot be read: {}.",
                    e.body_text()
                ))
            })
    }
}

/// Path segments; a row id that is not a number is a 400.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e: PathRejection| {
                Problem::bad_request(format!("The address cannot be read: {}.", e.body_text()))
            })
    }
}

/// What `If-Match` asks for (RFC 9110 §13.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    /// No header.
    Absent,
    /// `*`: any current version, but there must be one.
    Any,
    /// `"<version>"` as the `ETag` gave it (or the bare number).
    Version(i64),
    /// Only weak tags (`W/"3"`): If-Match compares strongly, so they never match (412).
    NeverMatches,
}

impl IfMatch {
    /// The version a change must be at, given the current one: `Ok(None)` for no condition,
    /// 412 when the condition is false.
    pub fn check(self, current: i64) -> Result<Option<i64>, Problem> {
        match self {
            IfMatch::Absent => Ok(None),
            IfMatch::Any => Ok(Some(current)),
            IfMatch::Version(v) if v == current => Ok(Some(v)),
            IfMatch::Version(_) | IfMatch::NeverMatches => Err(changed_meanwhile()),
        }
    }
}

/// 412: the row is not at the version the request names.
pub fn changed_meanwhile() -> Problem {
    Problem::new(
        ProblemKind::PreconditionFailed,
        "this row was changed by someone else meanwhile (or If-Match names no version it has); \
         check its current state and try again",
    )
}

/// Reads `If-Match`: a list of entity tags or `*`.
pub fn if_match(headers: &HeaderMap) -> Result<IfMatch, Problem> {
    let Some(value) = headers.get(IF_MATCH) else {
        return Ok(IfMatch::Absent);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(IfMatch::Any);
    }
    let mut weak_only = false;
    for tag in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if tag.starts_with("W/") {
            weak_only = true;
            continue;
        }
        let version = tag.trim_matches('"').parse::<i64>().map_err(|_| {
            Problem::bad_request(
                "If-Match must be the ETag a read of the row gave (e.g. \"3\"), or *.",
            )
        })?;
        return Ok(IfMatch::Version(version));
    }
    if weak_only {
        return Ok(IfMatch::NeverMatches);
    }
    Err(Problem::bad_request(
        "If-Match must be the ETag a read of the row gave (e.g. \"3\"), or *.",
    ))
}

/// `If-Match`, which a change must carry (428 without one): it must say what it is based on.
pub fn required_if_match(headers: &HeaderMap) -> Result<IfMatch, Problem> {
    match if_match(headers)? {
        IfMatch::Absent => Err(Problem::new(
            ProblemKind::PreconditionRequired,
            "This change needs If-Match with the row's ETag from your last read, so that it never \
             overwrites someone else's change.",
        )),
        other => Ok(other),
    }
}

/// The `ETag` of a row at `version`.
pub fn etag(version: i64) -> axum::http::HeaderValue {
    axum::http::HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a header value")
}

/// Refuses a query parameter longer than its declared bound (Q9), with a 400 naming it.
pub fn bounded(name: &str, value: Option<&str>, max_chars: usize) -> Result<(), Problem> {
    match value {
        Some(v) if v.chars().count() > max_chars => Err(Problem::bad_request(format!(
            "{name} may have at most {max_chars} characters."
        ))),
        _ => Ok(()),
    }
}
