//! API tokens (SPEC R21) on the wire: a NAP's own tokens, every token for operators, making one
//! (its secret crosses the wire this once) and revoking one. Every check is the backend's
//! (`backend::api_tokens`): the page only offers what it would allow anyway (Q1).

pub use domain::api_token::{ApiScope, DEFAULT_DAYS, MAX_DAYS};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

use crate::dates::WallTime;
use crate::error::AppError;

/// A domain the NAP may make a token for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DomainChoice {
    /// Database id.
    pub id: i64,
    /// ASCII name.
    pub name: String,
}

/// Whether a token works, as far as its own state goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenState {
    /// Neither revoked nor expired.
    InForce,
    /// Past its expiry.
    Expired,
    /// Stopped for good: `revoked_by_creator`, `revoked_by_operator`, `creator_left`,
    /// `creator_not_nap`.
    Stopped {
        /// The stored reason.
        reason: String,
        /// When.
        at: WallTime,
        /// Who (a user ID, `cli:<os user>`, `scim:<token>`, `system`).
        by: String,
    },
}

/// A token as the lists show it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenInfo {
    /// Database id.
    pub id: i64,
    /// The creator's name for it.
    pub name: String,
    /// User ID of the NAP who made it.
    pub creator_id: String,
    /// The creator's name.
    pub creator_name: String,
    /// Read, or read and write.
    pub scope: ApiScope,
    /// The domains it was made for.
    pub domains: Vec<String>,
    /// When it was made.
    pub created: WallTime,
    /// When it ends.
    pub expires: WallTime,
    /// Latest use, to the minute.
    pub last_used: Option<WallTime>,
    /// In force, expired, or stopped.
    pub state: TokenState,
}

/// What the page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokens {
    /// The domains the viewer administers now: the choice for a new token.
    pub domains: Vec<DomainChoice>,
    /// The viewer's own tokens, those not stopped first.
    pub mine: Vec<ApiTokenInfo>,
    /// Every token, for operators; `None` for anyone else.
    pub all: Option<Vec<ApiTokenInfo>>,
    /// The expiry date field: first day allowed, the default, the last day allowed (`YYYY-MM-DD`
    /// in the viewer's time zone).
    pub expiry_min: String,
    /// 90 days from today.
    pub expiry_default: String,
    /// One year from today.
    pub expiry_max: String,
    /// The base URL scripts call: `https://portal/api/v1`.
    pub endpoint: String,
    /// The IANA name of the viewer's zone (`Europe/Berlin`), which the token times are in: named
    /// in the lists' "Made" heading (R16).
    pub zone: String,
}

/// A token just made: the only time its secret leaves the server. `Debug` does not show the
/// secret (Q6): a logged or panicking `{:?}` of a result must not leak it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MadeApiToken {
    /// Database id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The secret, for the script's `Authorization: Bearer` header.
    pub token: String,
}

impl std::fmt::Debug for MadeApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MadeApiToken({}, #{}, <redacted>)", self.name, self.id)
    }
}

#[cfg(feature = "ssr")]
mod on_server {
    use backend::api_tokens::TokenView;

    use super::*;
    use crate::time_zone::ViewerZone;

    pub fn info(view: TokenView, zone: &ViewerZone, now: i64) -> ApiTokenInfo {
        let t = view.token;
        let state = match (t.revoked_at, t.revoke_reason) {
            (Some(at), reason) => TokenState::Stopped {
                reason: reason.unwrap_or_default(),
                at: zone.wall(at),
                by: t.revoked_by.unwrap_or_default(),
            },
            (None, _) if now >= t.expires_at => TokenState::Expired,
            (None, _) => TokenState::InForce,
        };
        ApiTokenInfo {
            id: t.id,
            name: t.name,
            creator_id: t.creator_id,
            creator_name: t.creator_name,
            scope: view.scope,
            domains: view.domains,
            created: zone.wall(t.created_at),
            expires: zone.wall(t.expires_at),
            last_used: t.last_used_at.map(|at| zone.wall(at)),
            state,
        }
    }

    /// `YYYY-MM-DD` of the viewer's day `days` days after `now`'s.
    pub fn day(zone: &ViewerZone, now: i64, days: u32) -> String {
        let w = zone.wall(now + i64::from(days) * 86_400);
        format!("{:04}-{:02}-{:02}", w.year, w.month, w.day)
    }

    /// Days from the viewer's today to `date` (`YYYY-MM-DD`).
    pub fn days_until(zone: &ViewerZone, now: i64, date: &str) -> Result<i64, AppError> {
        let bad = || {
            crate::on_server::service_error(backend::error::ServiceError::Invalid(
                domain::message::Message::ApiTokenExpiryDate {
                    value: date.chars().take(40).collect(),
                },
            ))
        };
        let chosen: jiff::civil::Date = date.trim().parse().map_err(|_| bad())?;
        let w = zone.wall(now);
        let today =
            jiff::civil::Date::new(w.year as i16, w.month as i8, w.day as i8).map_err(|_| bad())?;
        let span = today.until(chosen).map_err(|_| bad())?;
        Ok(i64::from(span.get_days()))
    }
}

/// The viewer's tokens, the domains they may make one for, and for operators every token.
/// NAPs and operators only.
#[server(endpoint = "api_tokens/list", input = Json)]
pub async fn list_api_tokens() -> Result<ApiTokens, AppError> {
    use on_server::{day, info};
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    if !viewer.is_nap() && !viewer.is_operator {
        return Err(crate::on_server::with_status(AppError::Forbidden));
    }
    let zone = crate::time_zone::ViewerZone::of_request();
    let now = backend::clock::now();
    let mine = backend::api_tokens::list_own_tokens(&portal, &viewer)
        .await
        .map_err(crate::on_server::service_error)?;
    let all = if viewer.is_operator {
        Some(
            backend::api_tokens::list_all_tokens(&portal, &viewer)
                .await
                .map_err(crate::on_server::service_error)?
                .into_iter()
                .map(|v| info(v, &zone, now))
                .collect(),
        )
    } else {
        None
    };
    Ok(ApiTokens {
        domains: viewer
            .nap_domains
            .iter()
            .map(|d| DomainChoice {
                id: d.id,
                name: d.name.clone(),
            })
            .collect(),
        mine: mine.into_iter().map(|v| info(v, &zone, now)).collect(),
        all,
        expiry_min: day(&zone, now, 1),
        expiry_default: day(&zone, now, DEFAULT_DAYS),
        expiry_max: day(&zone, now, MAX_DAYS),
        endpoint: format!("{}/api/v1", portal.config.base_url().trim_end_matches('/')),
        zone: zone.name().to_owned(),
    })
}

/// Makes a token for some of the domains the viewer administers, ending on `expires_on`
/// (`YYYY-MM-DD` in the viewer's time zone, at most a year away); answers its secret, once.
#[server(endpoint = "api_tokens/create", input = Json)]
pub async fn create_api_token(
    name: String,
    domain_ids: Vec<i64>,
    scope: ApiScope,
    expires_on: String,
) -> Result<MadeApiToken, AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    let zone = crate::time_zone::ViewerZone::of_request();
    let now = backend::clock::now();
    let days = on_server::days_until(&zone, now, &expires_on)?;
    let request = backend::api_tokens::TokenRequest {
        name: &name,
        domain_ids: &domain_ids,
        scope,
        days,
    };
    let token =
        backend::api_tokens::create_token(&portal, &viewer, &request, &viewer.user.user_id, now)
            .await
            .map_err(crate::on_server::service_error)?;
    Ok(MadeApiToken {
        id: token.id,
        name: token.name.clone(),
        token: token.expose().to_owned(),
    })
}

/// Revokes token `id`: its creator or an operator.
#[server(endpoint = "api_tokens/revoke", input = Json)]
pub async fn revoke_api_token(id: i64) -> Result<(), AppError> {
    let portal = expect_context::<backend::Portal>();
    let viewer = crate::on_server::require_viewer()?;
    backend::api_tokens::revoke_token(&portal, &viewer, id, backend::clock::now())
        .await
        .map(|_| ())
        .map_err(crate::on_server::service_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q6_a_token_just_made_does_not_print_its_secret() {
        let made = MadeApiToken {
            id: 7,
            name: "idm-sync".into(),
            token: "raapi_secret".into(),
        };
        assert_eq!(
            format!("{made:?}"),
            "MadeApiToken(idm-sync, #7, <redacted>)"
        );
        assert!(!format!("{:?}", Ok::<_, AppError>(made)).contains("raapi_secret"));
    }
}
