//! The refusals many operations share, as OpenAPI response sets for their `responses(...)`:
//! written once here instead of once per operation. Each answer is a [`Problem`]; the types only
//! describe the document (the handlers answer with `Problem` itself).

#![allow(dead_code)] // the variants are never built: only their derived descriptions are used

use utoipa::IntoResponses;

use super::problem::Problem;

/// What any operation answers without a valid token, or over the rate limit.
#[derive(IntoResponses)]
pub enum ReadRefusals {
    #[response(
        status = 401,
        description = "No valid token",
        content_type = "application/problem+json"
    )]
    NoToken(Problem),
    #[response(
        status = 429,
        description = "Rate limit",
        content_type = "application/problem+json"
    )]
    RateLimit(Problem),
}

/// [`ReadRefusals`] and a read-only token's write.
#[derive(IntoResponses)]
pub enum WriteRefusals {
    #[response(
        status = 401,
        description = "No valid token",
        content_type = "application/problem+json"
    )]
    NoToken(Problem),
    #[response(
        status = 403,
        description = "A read-only token",
        content_type = "application/problem+json"
    )]
    ReadOnly(Problem),
    #[response(
        status = 429,
        description = "Rate limit",
        content_type = "application/problem+json"
    )]
    RateLimit(Problem),
}

/// A JSON body the API does not read.
#[derive(IntoResponses)]
pub enum JsonBodyRefusals {
    #[response(
        status = 413,
        description = "Body too large",
        content_type = "application/problem+json"
    )]
    TooLarge(Problem),
    #[response(
        status = 415,
        description = "Not JSON",
        content_type = "application/problem+json"
    )]
    NotJson(Problem),
}

/// A write on a row that changed meanwhile, or without saying which version it changes.
#[derive(IntoResponses)]
pub enum IfMatchRefusals {
    #[response(
        status = 412,
        description = "The row changed since that version",
        content_type = "application/problem+json"
    )]
    Changed(Problem),
    #[response(
        status = 428,
        description = "No If-Match",
        content_type = "application/problem+json"
    )]
    NoIfMatch(Problem),
}

/// A domain the token does not cover (or that does not exist: the two are not told apart).
#[derive(IntoResponses)]
#[response(
    status = 404,
    description = "No such domain among the token's",
    content_type = "application/problem+json"
)]
pub struct DomainNotFound(Problem);

/// A row id or address that is no row of the domain.
#[derive(IntoResponses)]
#[response(
    status = 404,
    description = "No such row in the domain",
    content_type = "application/problem+json"
)]
pub struct RowNotFound(Problem);
