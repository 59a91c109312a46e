//! The refusals many operations share, as OpenAPI response sets for their `responses(...)`:
//! written once here instead of once per operation. Each answer is a [`Problem`]; the types only
//! describe the document (the handlers answer with `Problem` itself).

#![allow(dead_code)] // the variants are never built: only their derived descriptions are used

use utoipa::IntoResponses;

use super::problem::Problem;

/// Declares a response set: a variant per status, each a problem with its description.
macro_rules! refusals {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $status:tt $description:tt,)+ }) => {
        $(#[$doc])*
        #[derive(IntoResponses)]
        pub enum $name {
            $(
                #[response(status = $status, description = $description, content_type = "application/problem+json")]
                $variant(Problem),
            )+
        }
    };
}

refusals! {
    /// What any operation answers without a valid token, or over the rate limit.
    ReadRefusals { NoToken = 401 "No valid token", RateLimit = 429 "Rate limit", }
}

refusals! {
    /// [`ReadRefusals`] and a read-only token's write.
    WriteRefusals {
        NoToken = 401 "No valid token",
        ReadOnly = 403 "A read-only token",
        RateLimit = 429 "Rate limit",
    }
}

refusals! {
    /// A JSON body the API does not read.
    JsonBodyRefusals { TooLarge = 413 "Body too large", NotJson = 415 "Not JSON", }
}

refusals! {
    /// A write on a row that changed meanwhile, or without saying which version it changes.
    IfMatchRefusals {
        Changed = 412 "The row changed since that version",
        NoIfMatch = 428 "No If-Match",
    }
}

refusals! {
    /// A domain the token does not cover (or that does not exist: the two are not told apart).
    DomainNotFound { NotFound = 404 "No such domain among the token's", }
}

refusals! {
    /// A row id or address that is no row of the domain.
    RowNotFound { NotFound = 404 "No such row in the domain", }
}
