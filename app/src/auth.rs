//! Who is looking: the signed-in user and their roles as the pages need them, and how to log in.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The signed-in user as the user interface sees them (roles are decided on the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewerInfo {
    /// The user ID from the IdM.
    pub user_id: String,
    /// Given name and surname, as a personal certificate's CN would carry them.
    pub display_name: String,
    /// Member of the operator group.
    pub is_operator: bool,
    /// Names of the domains this user is a NAP of.
    pub nap_domains: Vec<String>,
}

impl ViewerInfo {
    /// Whether the user administers at least one domain.
    pub fn is_nap(&self) -> bool {
        !self.nap_domains.is_empty()
    }
}

/// How people log in here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoginMode {
    /// Local accounts with a password form (the embedded default).
    Local,
    /// An OpenID Connect provider.
    Oidc,
}

/// The session as the pages need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The signed-in user, if any.
    pub viewer: Option<ViewerInfo>,
    /// How to log in.
    pub login_mode: LoginMode,
}

/// The current session; anonymous visitors get `viewer: None`. (The pages do not need this call:
/// they get the session with the page. It serves scripts and tests that ask over HTTP.)
#[server(endpoint = "session")]
pub async fn get_session() -> Result<SessionInfo, AppError> {
    Ok(session_info())
}

/// The session as the pages see it (server side).
#[cfg(feature = "ssr")]
pub fn session_info() -> SessionInfo {
    let oidc = use_context::<backend::Portal>().is_some_and(|p| p.config.oidc.is_some());
    SessionInfo {
        viewer: crate::on_server::optional_viewer().map(|v| ViewerInfo {
            display_name: format!("{} {}", v.user.given_name, v.user.family_name)
                .trim()
                .to_string(),
            user_id: v.user.user_id.clone(),
            is_operator: v.is_operator,
            nap_domains: v.nap_domains.iter().map(|d| d.name.clone()).collect(),
        }),
        login_mode: if oidc {
            LoginMode::Oidc
        } else {
            LoginMode::Local
        },
    }
}

// The session of this page load is shared by every component through context (as the
// `SessionInfo` itself). The server knows it before it renders (its session layer found it),
// writes it into the page as `<body data-session>`, and the browser reads it back when it
// hydrates. So there is no resource to wait for and both sides render the same navigation.
// Logging in or out reloads the page, which is when the session changes.

/// The attribute of `<body>` that carries the session to the browser.
pub const SESSION_ATTRIBUTE: &str = "data-session";

/// The session for the page being rendered (server) or hydrated (browser).
pub fn initial_session() -> SessionInfo {
    #[cfg(feature = "ssr")]
    {
        session_info()
    }
    #[cfg(not(feature = "ssr"))]
    {
        document()
            .body()
            .and_then(|body| body.get_attribute(SESSION_ATTRIBUTE))
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or(SessionInfo {
                viewer: None,
                login_mode: LoginMode::Local,
            })
    }
}

/// Puts the session into context; call once at the root.
pub fn provide_session() {
    provide_context(initial_session());
}

/// The session of this page.
pub fn use_session() -> SessionInfo {
    expect_context::<SessionInfo>()
}

/// Keeps a `return_to` only if it is a path on this site (no open redirect to another host).
pub fn safe_return_to(candidate: &str) -> String {
    let ok = candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate.contains('\\')
        && !candidate.chars().any(|c| c.is_control());
    if ok {
        candidate.to_string()
    } else {
        "/".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_on_this_site() {
        assert_eq!(safe_return_to("/confirm/abc?x=1"), "/confirm/abc?x=1");
        assert_eq!(safe_return_to("//evil.example/x"), "/");
        assert_eq!(safe_return_to("https://evil.example/"), "/");
        assert_eq!(safe_return_to("/\\evil.example"), "/");
        assert_eq!(safe_return_to(""), "/");
    }
}
