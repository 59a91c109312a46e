//! Where the REST API lives; its own module so the resources and the problem type name it without
//! depending on the router that depends on them.

/// Where the API is mounted.
pub const API_PREFIX: &str = "/api/v1";
/// Where its OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// Whether a path belongs to the API (which takes no cookies; see the module doc of `api`).
pub fn is_api_path(path: &str) -> bool {
    path == API_PREFIX || path.starts_with("/api/v1/")
}
