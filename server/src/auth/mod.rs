//! Sign-in and sessions over HTTP (SPEC §1, Q2): the session cookie, local-account login, the OIDC
//! redirect and callback, and logout. The session itself lives in the database (`backend::sessions`).

pub mod oidc;

use app::on_server::cookie_in as cookie;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Form;
use backend::clock;
use backend::error::ServiceError;
use backend::identity::Identity;
use backend::secret::SecretString;
use backend::sessions::{end_session, find_viewer, start_session};
use backend::sign_in::{client_address, sign_in_with_password, SignInRefused};
use backend::storage::oidc_logins::{
    delete_stale_oidc_logins, insert_oidc_login, take_oidc_login, OidcLogin,
};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};

use crate::app_state::AppState;

/// Name of the session cookie. (The test IdP's cookies are prefixed `op_`, so they cannot clash.)
pub const SESSION_COOKIE: &str = "ra_session";
/// Binds an OIDC login to the browser that started it, against login CSRF.
const OIDC_STATE_COOKIE: &str = "ra_oidc_state";
/// An OIDC login must come back within this time.
const OIDC_LOGIN_MAX_AGE_SECS: i64 = 600;
/// The login page's `error` for someone the IdM deactivated or deleted (R22).
const IDM_INACTIVE_ERROR: &str = "deactivated";

/// Finds the session of the request's cookie and puts the signed-in `Viewer` (user and roles) into
/// the request's extensions, where pages and server functions read it without waiting. Roles are
/// read afresh on every request, so a changed contact group takes effect at once. Static files skip
/// the look-up.
pub async fn resolve_session(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    if !req.uri().path().starts_with("/pkg/") {
        if let Some(value) = cookie(req.headers(), SESSION_COOKIE) {
            let portal = &state.portal;
            match find_viewer(&portal.pool, &value, clock::now(), &portal.config).await {
                Ok(Some(viewer)) => {
                    req.extensions_mut().insert(viewer);
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = ?e, "session look-up failed"),
            }
        }
    }
    next.run(req).await
}

fn session_cookie(state: &AppState, value: &str) -> String {
    let secure = if state.portal.config.is_https() {
        "; Secure"
    } else {
        ""
    };
    // No Max-Age: the browser forgets it when closed; the server enforces idle and absolute timeouts.
    format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax{secure}")
}

fn expired_cookie(name: &str) -> String {
    format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

fn see_other(location: &str, cookies: &[String]) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(loc) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(LOCATION, loc);
    }
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            resp.headers_mut().append(SET_COOKIE, v);
        }
    }
    resp
}

fn login_page_with_error(error: &str, return_to: &str) -> String {
    format!(
        "/login?error={error}&return_to={}",
        app::components::encode_component(return_to)
    )
}

/// Starts a session for `identity` (ending the one the browser had, against session fixation) and
/// sends the browser on to `return_to`.
async fn sign_in(
    state: &AppState,
    headers: &HeaderMap,
    identity: &Identity,
    return_to: &str,
) -> Response {
    let portal = &state.portal;
    if let Some(old) = cookie(headers, SESSION_COOKIE) {
        let _ = end_session(&portal.pool, &old).await;
    }
    match start_session(&portal.pool, identity, clock::now(), &portal.config.session).await {
        Ok(token) => {
            tracing::info!(user = %identity.user_id, source = identity.source.as_str(), "signed in");
            see_other(
                return_to,
                &[
                    session_cookie(state, token.expose_cookie_value()),
                    expired_cookie(OIDC_STATE_COOKIE),
                ],
            )
        }
        Err(ServiceError::Invalid(domain::message::Message::IdmInactive)) => {
            // R22: an OIDC provider (or anything else) let in someone the IdM deactivated.
            tracing::info!(user = %identity.user_id, source = identity.source.as_str(), "sign-in refused: the IdM says the user is inactive or deleted");
            see_other(&login_page_with_error(IDM_INACTIVE_ERROR, return_to), &[])
        }
        Err(e) => {
            tracing::error!(error = ?e, "could not start a session");
            see_other(&login_page_with_error("failed", return_to), &[])
        }
    }
}

/// The local-account login form.
#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: SecretString,
    #[serde(default)]
    return_to: String,
}

/// The address a request came from, for sign-in throttling: the peer, or what a configured
/// trusted proxy says in `X-Forwarded-For` (README: `trusted_proxies`).
fn request_client(state: &AppState, extensions: &Extensions, headers: &HeaderMap) -> IpAddr {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        // Served without the peer's address (never by `Application`): all such requests share
        // one throttle rather than escaping it.
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    client_address(peer, forwarded, &state.portal.config.trusted_proxies)
}

/// A refusal that says when to try again: 429 (throttled) or 503 (busy) with `Retry-After`, as
/// a small page for the browser that posted the form.
fn try_again_later(status: StatusCode, retry_after_secs: u64, return_to: &str) -> Response {
    let until = domain::time::utc_date_time(clock::now() + retry_after_secs as i64);
    let (en, de) = if status == StatusCode::TOO_MANY_REQUESTS {
        (
            "Too many failed sign-ins from your address or for this account.",
            "Zu viele fehlgeschlagene Anmeldungen von Ihrer Adresse oder für dieses Konto.",
        )
    } else {
        (
            "Too many sign-ins are being checked right now.",
            "Gerade werden zu viele Anmeldungen geprüft.",
        )
    };
    let back = format!(
        "/login?return_to={}",
        app::components::encode_component(return_to)
    );
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Try again later</title></head>\n\
         <body><h1>Try again in {retry_after_secs} seconds</h1>\n\
         <p>{en} Your password was not checked. Try again in {retry_after_secs} seconds (after {until}).</p>\n\
         <p lang=\"de\">{de} Ihr Passwort wurde nicht geprüft. Versuchen Sie es in {retry_after_secs} Sekunden wieder (nach {until}).</p>\n\
         <p><a href=\"{back}\">Back to sign-in / Zurück zur Anmeldung</a></p></body></html>\n"
    );
    let mut resp = (status, body).into_response();
    let headers = resp.headers_mut();
    headers.insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// `POST /auth/login`: checks a local account's password, throttled per client address and per
/// account (Q7).
pub async fn local_login(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let return_to = app::auth::safe_return_to(&form.return_to);
    if state.portal.config.oidc.is_some() {
        return (
            StatusCode::NOT_FOUND,
            "Local accounts are switched off; sign in with your organisation's account.",
        )
            .into_response();
    }
    let username = form.username.trim().to_ascii_lowercase();
    let client = request_client(&state, &extensions, &headers);
    match sign_in_with_password(
        &state.portal.pool,
        &state.sign_in,
        &username,
        &form.password,
        client,
        clock::now(),
    )
    .await
    {
        Ok(identity) => sign_in(&state, &headers, &identity, &return_to).await,
        Err(SignInRefused::IdmInactive(_)) => {
            tracing::info!(user = %username, %client, "local login refused: the IdM says the user is inactive or deleted");
            see_other(&login_page_with_error(IDM_INACTIVE_ERROR, &return_to), &[])
        }
        Err(SignInRefused::BadCredentials) => {
            tracing::info!(user = %username, %client, "local login refused");
            see_other(&login_page_with_error("invalid", &return_to), &[])
        }
        Err(SignInRefused::Throttled { retry_after_secs }) => {
            tracing::info!(user = %username, %client, retry_after_secs, "local login throttled");
            try_again_later(StatusCode::TOO_MANY_REQUESTS, retry_after_secs, &return_to)
        }
        Err(SignInRefused::Busy { retry_after_secs }) => {
            tracing::warn!(user = %username, %client, "local login refused: too many password checks at once");
            try_again_later(
                StatusCode::SERVICE_UNAVAILABLE,
                retry_after_secs,
                &return_to,
            )
        }
        Err(e) => {
            tracing::error!(error = ?e, "local login failed");
            see_other(&login_page_with_error("failed", &return_to), &[])
        }
    }
}

/// Query of `/auth/oidc/start`.
#[derive(Deserialize)]
pub struct StartQuery {
    #[serde(default)]
    return_to: String,
}

/// `GET /auth/oidc/start`: sends the browser to the IdP.
pub async fn oidc_start(State(state): State<AppState>, Query(q): Query<StartQuery>) -> Response {
    let Some(provider) = state.oidc.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "No OpenID Connect provider is configured.",
        )
            .into_response();
    };
    let return_to = app::auth::safe_return_to(&q.return_to);
    let start = match provider.start().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "OIDC login could not start");
            return see_other(&login_page_with_error("failed", &return_to), &[]);
        }
    };
    let now = clock::now();
    let stored = async {
        let mut conn = state.portal.pool.acquire().await?;
        delete_stale_oidc_logins(&mut conn, now - OIDC_LOGIN_MAX_AGE_SECS).await?;
        insert_oidc_login(
            &mut conn,
            &OidcLogin {
                state: start.state.clone(),
                nonce: start.nonce,
                pkce_verifier: start.pkce_verifier,
                return_to,
                created_at: now,
            },
        )
        .await
    }
    .await;
    if let Err(e) = stored {
        tracing::error!(error = %e, "could not record the OIDC login");
        return (StatusCode::INTERNAL_SERVER_ERROR, "Internal error.").into_response();
    }
    let secure = if state.portal.config.is_https() {
        "; Secure"
    } else {
        ""
    };
    let bind = format!(
        "{OIDC_STATE_COOKIE}={}; Path=/auth/callback; HttpOnly; SameSite=Lax; Max-Age={OIDC_LOGIN_MAX_AGE_SECS}{secure}",
        start.state
    );
    see_other(&start.authorize_url, &[bind])
}

/// Query of the OIDC callback.
#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/callback`: the IdP sends the browser back with a code.
pub async fn oidc_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(provider) = state.oidc.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "No OpenID Connect provider is configured.",
        )
            .into_response();
    };
    let Some(login_state) = q.state else {
        return see_other(&login_page_with_error("expired", "/"), &[]);
    };
    // The state must be the one this browser was given (login CSRF), and be known and fresh.
    if cookie(&headers, OIDC_STATE_COOKIE).as_deref() != Some(login_state.as_str()) {
        tracing::warn!("OIDC callback without the matching state cookie");
        return see_other(&login_page_with_error("expired", "/"), &[]);
    }
    let taken = match state.portal.pool.acquire().await {
        Ok(mut conn) => take_oidc_login(&mut conn, &login_state).await,
        Err(e) => Err(e),
    };
    let login = match taken {
        Ok(Some(login)) if clock::now() - login.created_at <= OIDC_LOGIN_MAX_AGE_SECS => login,
        Ok(_) => return see_other(&login_page_with_error("expired", "/"), &[]),
        Err(e) => {
            tracing::error!(error = %e, "could not read the OIDC login");
            return (StatusCode::INTERNAL_SERVER_ERROR, "Internal error.").into_response();
        }
    };
    if let Some(error) = q.error {
        tracing::info!(error, "the IdP ended the login with an error");
        return see_other(&login_page_with_error("failed", &login.return_to), &[]);
    }
    let Some(code) = q.code else {
        return see_other(&login_page_with_error("failed", &login.return_to), &[]);
    };
    match provider
        .finish(&code, &login.nonce, &login.pkce_verifier)
        .await
    {
        Ok(identity) => sign_in(&state, &headers, &identity, &login.return_to).await,
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "OIDC login failed");
            see_other(&login_page_with_error("failed", &login.return_to), &[])
        }
    }
}

/// `POST /auth/logout`: ends the session and forgets the cookie.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(value) = cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = end_session(&state.portal.pool, &value).await {
            tracing::error!(error = ?e, "logout could not end the session");
        }
    }
    see_other("/", &[expired_cookie(SESSION_COOKIE)])
}
