//! SCIM 2.0 service provider (RFC 7643, RFC 7644) for the IdM (SPEC R22): the IdM creates,
//! replaces, patches and deletes User resources; when it turns a user inactive or deletes an
//! active one, [`crate::deprovisioning::deprovision_user`] ends what that person can still do here.
//!
//! Only protocol lives here, no HTTP: the server crate maps [`ScimError`] to a response and hands
//! the parsed bodies in. The pieces:
//!
//! * [`schema`]: the published User schema (core and enterprise extension), read once; it drives
//!   how incoming resources are checked ([`resource`]) and what discovery answers ([`discovery`]).
//! * [`filter`]: the filters the IdMs use (`userName eq "…"`, `externalId eq "…"`), and the
//!   value filters of PATCH paths (`emails[type eq "work"].value`).
//! * [`patch`]: PATCH operations, in the shapes Entra ID, Okta and RFC 7644 send them.
//! * [`users`]: the use cases over the `scim_users` table; [`tokens`]: the IdM's bearer tokens.

pub mod discovery;
pub mod filter;
pub mod patch;
pub mod resource;
pub mod schema;
pub mod tokens;
pub mod users;

use crate::error::ServiceError;

/// The core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The enterprise User extension (Entra ID and Okta send department, manager, … in it).
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The schema of error answers.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The schema of list answers.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The schema of PATCH requests.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The schema of `/.search` requests.
pub const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// Largest page a list answers (`maxResults` of the filter capability).
pub const MAX_RESULTS: i64 = 200;
/// The page size when the IdM names none.
pub const DEFAULT_COUNT: i64 = 100;
/// Largest request body (Q5): an IdM's user is a few KiB; this leaves room for many certificates.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most PATCH operations in one request.
pub const MAX_OPERATIONS: usize = 100;

/// The `scimType` values of RFC 7644 §3.12 the portal answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    /// The filter has a wrong syntax or asks for something not supported.
    InvalidFilter,
    /// A value is not of the attribute's type or breaks a rule.
    InvalidValue,
    /// The request body is not what the operation takes.
    InvalidSyntax,
    /// A PATCH path is malformed or names no attribute.
    InvalidPath,
    /// A PATCH path's filter matched nothing where something was required.
    NoTarget,
    /// The value is taken by another resource (`userName`).
    Uniqueness,
    /// An attempt to change an immutable or read-only attribute.
    Mutability,
    /// More than the portal accepts at once.
    TooMany,
}

impl ScimType {
    /// The spelling of RFC 7644.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::TooMany => "tooMany",
        }
    }
}

/// Why a SCIM request did not happen: an HTTP status, RFC 7644's `scimType` and a detail the IdM's
/// administrator can act on (never a secret, never a database detail).
#[derive(Debug, thiserror::Error)]
pub enum ScimError {
    /// The request is refused; the status and detail say why.
    #[error("{detail}")]
    Refused {
        /// HTTP status (400, 404, 409, 412, 413, 415, …).
        status: u16,
        /// RFC 7644's error type, where one fits.
        scim_type: Option<ScimType>,
        /// What is wrong, in a sentence.
        detail: String,
    },
    /// A failure of the portal; the cause goes to the log only.
    #[error("internal error")]
    Internal(#[source] ServiceError),
}

impl ScimError {
    /// 400 with a `scimType`.
    pub fn bad(scim_type: ScimType, detail: impl Into<String>) -> ScimError {
        ScimError::Refused {
            status: 400,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    /// 404 for a resource id that does not exist (any more).
    pub fn not_found(id: &str) -> ScimError {
        ScimError::Refused {
            status: 404,
            scim_type: None,
            detail: format!("There is no User with id {id:?}."),
        }
    }

    /// Any other refusal.
    pub fn status(status: u16, detail: impl Into<String>) -> ScimError {
        ScimError::Refused {
            status,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// The HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        match self {
            ScimError::Refused { status, .. } => *status,
            ScimError::Internal(_) => 500,
        }
    }

    /// The SCIM Error resource (RFC 7644 §3.12): `status` as a string, as the RFC has it.
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.http_status().to_string(),
        });
        match self {
            ScimError::Refused {
                scim_type, detail, ..
            } => {
                if let Some(t) = scim_type {
                    body["scimType"] = t.as_str().into();
                }
                body["detail"] = detail.as_str().into();
            }
            ScimError::Internal(_) => {
                body["detail"] = "Internal error; the details are in the portal's log.".into();
            }
        }
        body
    }
}

impl From<ServiceError> for ScimError {
    fn from(e: ServiceError) -> Self {
        ScimError::Internal(e)
    }
}

impl From<sqlx::Error> for ScimError {
    fn from(e: sqlx::Error) -> Self {
        ScimError::Internal(ServiceError::from(e))
    }
}

/// RFC 3339 UTC time of a Unix timestamp, as `meta.created` and `meta.lastModified` carry it.
pub fn rfc3339(secs: i64) -> String {
    let in_day = secs.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        domain::time::utc_date(secs),
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r22_errors_are_scim_error_resources_with_the_status_as_a_string() {
        let e = ScimError::bad(ScimType::InvalidFilter, "no");
        assert_eq!(
            e.to_json(),
            serde_json::json!({"schemas": [ERROR_SCHEMA], "status": "400",
                "scimType": "invalidFilter", "detail": "no"})
        );
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_750_000_001), "2025-06-15T15:06:41Z");
    }
}
