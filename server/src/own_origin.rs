//! The portal's own origin, which the security middleware holds requests and headers to (SPEC Q3,
//! Q4); part of the application state.

/// The portal's own origin (`scheme://host[:port]`), which state-changing requests must come from.
#[derive(Clone, Debug)]
pub struct OwnOrigin {
    origin: String,
    https: bool,
}

impl OwnOrigin {
    /// The origin of a base URL such as `https://ra.example.org/portal`.
    pub fn from_base_url(base_url: &str) -> OwnOrigin {
        let https = base_url.starts_with("https://");
        let after_scheme = base_url
            .split_once("://")
            .map(|(_, r)| r)
            .unwrap_or(base_url);
        let host = after_scheme.split('/').next().unwrap_or_default();
        let scheme = if https { "https" } else { "http" };
        OwnOrigin {
            origin: format!("{scheme}://{}", host.to_ascii_lowercase()),
            https,
        }
    }

    /// `scheme://host[:port]`, lower-case.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Whether the portal is served over HTTPS.
    pub fn https(&self) -> bool {
        self.https
    }
}
