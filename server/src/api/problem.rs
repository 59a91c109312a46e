//! RFC 9457 problem details: every refusal of the REST API is `application/problem+json` with
//! `type`, `title`, `status` and `detail`, plus `errors` naming each field (and, for bulk input,
//! its line and column) when the input breaks rules.
//!
//! The services' errors become problems here and nowhere else ([`From`] impls at the bottom), so a
//! change of the services' error types is one edit. `detail` is the services' safe message (Q6:
//! never a token or a database detail); an internal failure is logged with its cause and answered
//! with "internal error" only.

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use backend::ServiceError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The media type of every refusal.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// What kind of refusal a problem is: its status, `type` and `title`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// 400: the request cannot be read (broken JSON, a bad query parameter or cursor).
    BadRequest,
    /// 401: no valid bearer token.
    Unauthorized,
    /// 403: the token may not do this (read-only token writing).
    Forbidden,
    /// 404: no such resource, or one the token does not cover (they read alike).
    NotFound,
    /// 405: the resource does not take this method.
    MethodNotAllowed,
    /// 409: the resource's state refuses it (e.g. deleting a row that had a challenge, R3).
    Conflict,
    /// 412: `If-Match` names a version the resource no longer has.
    PreconditionFailed,
    /// 413: the body is larger than the endpoint takes.
    TooLarge,
    /// 415: the body is not of a type the endpoint takes.
    UnsupportedMediaType,
    /// 422: well-formed input that breaks the rules; `errors` names the fields.
    Unprocessable,
    /// 428: a change that must name the version it is based on has no `If-Match`.
    PreconditionRequired,
    /// 429: the rate limit of the token's creator (all their tokens share it) is used up; `Retry-After` says when to try again.
    TooManyRequests,
    /// 500: a fault of the portal; details only in its log.
    Internal,
}

impl ProblemKind {
    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            ProblemKind::BadRequest => StatusCode::BAD_REQUEST,
            ProblemKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ProblemKind::Forbidden => StatusCode::FORBIDDEN,
            ProblemKind::NotFound => StatusCode::NOT_FOUND,
            ProblemKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemKind::Conflict => StatusCode::CONFLICT,
            ProblemKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ProblemKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemKind::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ProblemKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ProblemKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The last segment of the `type` URI.
    pub fn slug(self) -> &'static str {
        match self {
            ProblemKind::BadRequest => "bad-request",
            ProblemKind::Unauthorized => "unauthorized",
            ProblemKind::Forbidden => "forbidden",
            ProblemKind::NotFound => "not-found",
            ProblemKind::MethodNotAllowed => "method-not-allowed",
            ProblemKind::Conflict => "conflict",
            ProblemKind::PreconditionFailed => "changed-meanwhile",
            ProblemKind::TooLarge => "too-large",
            ProblemKind::UnsupportedMediaType => "unsupported-media-type",
            ProblemKind::Unprocessable => "invalid-input",
            ProblemKind::PreconditionRequired => "version-required",
            ProblemKind::TooManyRequests => "rate-limited",
            ProblemKind::Internal => "internal-error",
        }
    }

    /// The short summary, the same for every problem of the kind (RFC 9457 §3.1.3).
    pub fn title(self) -> &'static str {
        match self {
            ProblemKind::BadRequest => "The request cannot be read",
            ProblemKind::Unauthorized => "A valid API token is required",
            ProblemKind::Forbidden => "This token may not do this",
            ProblemKind::NotFound => "No such resource",
            ProblemKind::MethodNotAllowed => "Method not allowed",
            ProblemKind::Conflict => "The resource's state refuses this",
            ProblemKind::PreconditionFailed => "Changed meanwhile",
            ProblemKind::TooLarge => "The request is too large",
            ProblemKind::UnsupportedMediaType => "Unsupported media type",
            ProblemKind::Unprocessable => "The input breaks the rules",
            ProblemKind::PreconditionRequired => "If-Match is required",
            ProblemKind::TooManyRequests => "Too many requests",
            ProblemKind::Internal => "Internal error",
        }
    }
}

/// A refusal, as RFC 9457 problem details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "/api/v1/problems/invalid-input",
    "title": "The input breaks the rules",
    "status": 422,
    "detail": "aliases: bob@example.com is not in a domain you administer",
    "errors": [{"field": "aliases", "message": "bob@example.com is not in a domain you administer"}]
}))]
pub struct Problem {
    /// A URI reference naming the kind of problem: `/api/v1/problems/<kind>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// The kind's short summary.
    pub title: String,
    /// The HTTP status code, repeated.
    pub status: u16,
    /// What is wrong in this case, as a sentence to act on.
    pub detail: String,
    /// Each field that breaks a rule, when the input does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// Seconds to wait (429), sent as `Retry-After`.
    #[serde(skip)]
    #[schema(ignore)]
    pub retry_after: Option<u64>,
}

/// One field that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldProblem {
    /// The field's name as the request spells it (`primary_address`, `aliases`, …; a CSV column's
    /// header for bulk input).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
    /// Bulk input: the line (1-based; a CSV file's header is line 1, a JSON array's first item 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Bulk input: the column (1-based), where the input has columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
}

impl FieldProblem {
    /// A problem at a field.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldProblem {
        FieldProblem {
            field: field.into(),
            message: message.into(),
            line: None,
            column: None,
        }
    }

    /// The same, at a line and column of bulk input.
    pub fn at(mut self, line: u64, column: Option<u64>) -> FieldProblem {
        self.line = Some(line);
        self.column = column;
        self
    }
}

impl Problem {
    /// A problem of `kind` with this detail.
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Problem {
        Problem {
            problem_type: format!("{}/problems/{}", super::paths::API_PREFIX, kind.slug()),
            title: kind.title().to_owned(),
            status: kind.status().as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// With field errors.
    pub fn with_errors(mut self, errors: Vec<FieldProblem>) -> Problem {
        self.errors = errors;
        self
    }

    /// With a `Retry-After` in seconds.
    pub fn with_retry_after(mut self, seconds: u64) -> Problem {
        self.retry_after = Some(seconds);
        self
    }

    /// 400.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(ProblemKind::BadRequest, detail)
    }

    /// 404 for a domain the token does not cover or that does not exist (they read alike).
    pub fn no_such_domain() -> Problem {
        Problem::new(
            ProblemKind::NotFound,
            "There is no such domain among the domains this token covers.",
        )
    }

    /// 404 for a row, certificate, … that does not exist in the domain.
    pub fn not_found(what: &str) -> Problem {
        Problem::new(
            ProblemKind::NotFound,
            format!("There is no such {what} in this domain."),
        )
    }

    /// 404 for what lies outside the token's domains.
    pub fn not_in_reach() -> Problem {
        Problem::new(
            ProblemKind::NotFound,
            "There is no such resource in the domains this token covers.",
        )
    }

    /// 422 for one field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Problem {
        let message = message.into();
        Problem::new(ProblemKind::Unprocessable, format!("{field}: {message}"))
            .with_errors(vec![FieldProblem::new(field, message)])
    }

    /// 500, with the cause logged (never answered).
    pub fn internal(cause: &dyn std::error::Error) -> Problem {
        tracing::error!(error = %cause, source = ?cause.source(), "API request failed");
        Problem::new(
            ProblemKind::Internal,
            "internal error; the portal's log has the cause",
        )
    }

    /// The status as a [`StatusCode`].
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_string(&self).expect("a problem serialises");
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = self.retry_after {
            h.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: the scheme and realm the client must authenticate with.
            h.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ra-portal-api\""),
            );
        }
        resp
    }
}

// ---------------------------------------------------------------------------------------------
// The one mapping from the services' errors
// ---------------------------------------------------------------------------------------------

/// The API's name of a row field (the request bodies' names).
fn api_field(field: domain::row::Field) -> &'static str {
    match field {
        domain::row::Field::Applicant => "applicant_address",
        other => other.as_str(),
    }
}

impl From<ServiceError> for Problem {
    fn from(e: ServiceError) -> Problem {
        use domain::message::Message as M;
        let message = match &e {
            ServiceError::Internal(_) => return Problem::internal(&e),
            ServiceError::Forbidden(m)
            | ServiceError::NotFound(m)
            | ServiceError::Invalid(m)
            | ServiceError::ChangedMeanwhile(m, _)
            | ServiceError::TooLarge(m) => m,
        };
        let kind = match (&e, message) {
            // A refusal by the resource's state, not by the input: R3, R15, R13.
            (ServiceError::Invalid(_), M::Delete(_) | M::Revoke(_) | M::Request(_)) => {
                ProblemKind::Conflict
            }
            // Every token is a NAP of its domains: "not a NAP of this" means "not in reach",
            // which reads like no such thing (Q1: no existence leak, as in the pages).
            (ServiceError::Forbidden(_), M::NotNap) => return Problem::not_in_reach(),
            (ServiceError::Forbidden(_), _) => ProblemKind::Forbidden,
            (ServiceError::NotFound(_), _) => ProblemKind::NotFound,
            (ServiceError::Invalid(_), _) => ProblemKind::Unprocessable,
            // The API's changes name their version with If-Match: a stale one is 412.
            (ServiceError::ChangedMeanwhile(..), _) => ProblemKind::PreconditionFailed,
            (ServiceError::TooLarge(_), _) => ProblemKind::TooLarge,
            (ServiceError::Internal(_), _) => ProblemKind::Internal,
        };
        let errors = match message {
            M::Fields(fields) => fields
                .iter()
                .map(|f| FieldProblem::new(api_field(f.field), f.message.to_string()))
                .collect(),
            _ => Vec::new(),
        };
        Problem::new(kind, message.to_string()).with_errors(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q9_a_problem_is_rfc_9457_json_with_field_errors_only_when_there_are_some() {
        let plain = serde_json::to_value(Problem::not_found("row")).unwrap();
        assert_eq!(plain["type"], "/api/v1/problems/not-found");
        assert_eq!(plain["status"], 404);
        assert!(plain.get("errors").is_none());
        let fields = serde_json::to_value(Problem::invalid_field("comment", "too long")).unwrap();
        assert_eq!(fields["errors"][0]["field"], "comment");
        assert!(fields["errors"][0].get("line").is_none());
    }
}
