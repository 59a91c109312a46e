//! Server-only helpers for pages and server functions: the request's language, the per-response
//! Content-Security-Policy, cookies.

use axum::http::header::{ACCEPT_LANGUAGE, CONTENT_SECURITY_POLICY, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use crate::i18n::Lang;

/// Name of the cookie that remembers the interface language (not a secret, so readable by scripts).
const LANG_COOKIE: &str = "lang";

/// The value of one cookie of the current request.
pub fn request_cookie(name: &str) -> Option<String> {
    cookie_in(&use_context::<Parts>()?.headers, name)
}

/// The value of cookie `name` in `headers`.
pub fn cookie_in(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The language of the current request: cookie, then Accept-Language, then English.
pub fn request_lang() -> Lang {
    let accept = use_context::<Parts>().and_then(|p| {
        p.headers
            .get(ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    Lang::negotiate(request_cookie(LANG_COOKIE).as_deref(), accept.as_deref())
}

/// R20: the current request's client as validation evidence: the peer's IP address (the portal
/// builds nothing from forwarded headers it cannot verify) and the `User-Agent` header.
pub fn request_client() -> domain::handover::ConfirmingClient {
    let Some(parts) = use_context::<Parts>() else {
        return domain::handover::ConfirmingClient::default();
    };
    let ip = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip().to_string());
    let user_agent = parts
        .headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    domain::handover::ConfirmingClient::new(ip, user_agent)
}

/// Sets the language cookie on the current response (one year).
pub fn remember_lang(lang: Lang) {
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.tag()
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        expect_context::<ResponseOptions>().append_header(SET_COOKIE, value);
    }
}

pub mod content_security_policy {
    //! The page's Content-Security-Policy (Q4): scripts only from the portal itself plus the inline
    //! hydration script carrying this response's nonce; WASM may be compiled; nothing may frame us.

    use super::*;
    use leptos::nonce::{provide_nonce, use_nonce};

    /// The policy for a page whose inline scripts carry `nonce`.
    pub fn for_nonce(nonce: &str) -> String {
        format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
    }

    /// Makes a fresh nonce for this response, for leptos' inline scripts and the CSP header.
    pub fn provide_for_response() {
        provide_nonce();
        let Some(nonce) = use_nonce() else { return };
        if let (Some(resp), Ok(value)) = (
            use_context::<ResponseOptions>(),
            HeaderValue::from_str(&for_nonce(&nonce.to_string())),
        ) {
            resp.insert_header(CONTENT_SECURITY_POLICY, value);
        }
    }
}

/// The signed-in user with roles, as the server's session layer found it; `None` for anonymous
/// requests. Synchronous, so pages read it while rendering without a resource.
pub fn optional_viewer() -> Option<backend::roles::Viewer> {
    use_context::<Parts>()?
        .extensions
        .get::<backend::roles::Viewer>()
        .cloned()
}

/// The session as the pages see it.
pub fn session_info() -> crate::auth::SessionInfo {
    let oidc = use_context::<backend::Portal>().is_some_and(|p| p.config.oidc.is_some());
    crate::auth::SessionInfo {
        viewer: optional_viewer().map(|v| crate::auth::ViewerInfo {
            display_name: format!("{} {}", v.user.given_name, v.user.family_name)
                .trim()
                .to_string(),
            user_id: v.user.user_id.clone(),
            is_operator: v.is_operator,
            nap_domains: v.nap_domains.iter().map(|d| d.name.clone()).collect(),
        }),
        login_mode: if oidc {
            crate::auth::LoginMode::Oidc
        } else {
            crate::auth::LoginMode::Local
        },
    }
}

/// The viewer with roles; anonymous requests are refused with 401 (Q1).
pub fn require_viewer() -> Result<backend::roles::Viewer, crate::error::AppError> {
    optional_viewer().ok_or_else(|| with_status(crate::error::AppError::Unauthenticated))
}

/// The viewer, who must be an operator; others are refused with 403 (Q1).
pub fn require_operator() -> Result<backend::roles::Viewer, crate::error::AppError> {
    let viewer = require_viewer()?;
    if viewer.is_operator {
        Ok(viewer)
    } else {
        Err(with_status(crate::error::AppError::Forbidden))
    }
}

/// Logs an internal error with its cause chain and gives the caller only the safe face (STYLE 5).
pub fn internal<E: std::fmt::Debug>(err: E) -> crate::error::AppError {
    tracing::error!(error = ?err, "internal error in a server function");
    with_status(crate::error::AppError::Internal)
}

/// Sets the HTTP status that matches an error on the current response, so refusals are 401/403/422
/// and not a generic 500, and returns the error.
pub fn with_status(err: crate::error::AppError) -> crate::error::AppError {
    use crate::error::AppError;
    let status = match err {
        AppError::Unauthenticated => 401,
        AppError::Forbidden => 403,
        AppError::NotFound => 404,
        AppError::Invalid(_) | AppError::Refused(_) => 422,
        AppError::Internal | AppError::Transport(_) => 500,
    };
    set_status(status);
    err
}

/// Answers a server function called over HTTP with `status`; a page that calls one while rendering
/// stays a 200 page that shows the message.
fn set_status(status: u16) {
    let is_server_fn_call =
        use_context::<Parts>().is_some_and(|p| p.uri.path().starts_with("/api/"));
    if let (true, Some(resp), Ok(status)) = (
        is_server_fn_call,
        use_context::<ResponseOptions>(),
        axum::http::StatusCode::from_u16(status),
    ) {
        resp.set_status(status);
    }
}

/// The one mapping of a service's error to a server function's (STYLE 5): the kind gives the
/// status, the message goes to the page as data (worded there in the reader's language), and an
/// internal failure is logged with its cause and crosses the wire as `Internal` only.
pub fn service_error(err: backend::error::ServiceError) -> crate::error::AppError {
    use crate::error::AppError;
    use backend::error::ServiceError;
    use domain::message::Message;
    set_status(err.status());
    match err {
        ServiceError::Internal(_) => {
            tracing::error!(error = ?err, "internal error in a service");
            AppError::Internal
        }
        // Q1: a missing role reads the same everywhere.
        ServiceError::Forbidden(Message::NotNap | Message::OperatorOnly) => AppError::Forbidden,
        ServiceError::Forbidden(m)
        | ServiceError::NotFound(m)
        | ServiceError::Invalid(m)
        | ServiceError::ChangedMeanwhile(m, _)
        | ServiceError::TooLarge(m) => AppError::Refused(m),
    }
}

/// The same for a form whose field errors are shown at their fields.
pub fn save_error(err: backend::error::ServiceError) -> crate::rows_api::RowSaveError {
    use crate::rows_api::RowSaveError;
    match err {
        backend::error::ServiceError::Invalid(domain::message::Message::Fields(errors)) => {
            set_status(422);
            RowSaveError::Fields(errors)
        }
        e => RowSaveError::Other(service_error(e)),
    }
}

pub mod audit {
    //! The audit page's filter for the service.

    use backend::rows::AuditFilter;
    use backend::storage::audit::AuditKind;

    use super::with_status;
    use crate::error::AppError;
    use crate::pages::audit::AuditQuery;
    use crate::time_zone::ViewerZone;

    /// Unix seconds of the start of a `YYYY-MM-DD` day (UTC).
    fn day_start(text: &str) -> Result<i64, AppError> {
        let bad = || {
            with_status(AppError::Invalid(format!(
                "{text:?} is not a date (YYYY-MM-DD)"
            )))
        };
        let mut parts = text.split('-').map(|p| p.parse::<i64>());
        let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d)), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return Err(bad());
        }
        // days-from-civil (H. Hinnant)
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Ok((era * 146_097 + doe - 719_468) * 86_400)
    }

    /// The service's filter from the page's query; at most `limit` records. The days are days of
    /// `zone`, the zone the page shows times in.
    pub fn to_filter(
        q: &AuditQuery,
        limit: u32,
        zone: &ViewerZone,
    ) -> Result<AuditFilter, AppError> {
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        let kind = match some(&q.kind) {
            None => None,
            Some(k) => Some(
                AuditKind::ALL
                    .into_iter()
                    .find(|a| a.as_str() == k)
                    .ok_or_else(|| {
                        with_status(AppError::Invalid(format!(
                            "{k:?} is not a kind of audit record; known kinds: {}",
                            AuditKind::ALL.map(|a| a.as_str()).join(", ")
                        )))
                    })?,
            ),
        };
        Ok(AuditFilter {
            row: some(&q.row),
            actor: some(&q.actor),
            kind,
            from: some(&q.from)
                .map(|d| day_start(&d).map(|s| zone.as_local(s)))
                .transpose()?,
            to: some(&q.to)
                .map(|d| day_start(&d).map(|s| zone.as_local(s + 86_399)))
                .transpose()?,
            limit,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn days_are_read_as_utc() {
            assert_eq!(day_start("1970-01-01").unwrap(), 0);
            assert_eq!(day_start("2025-06-15").unwrap(), 1_749_945_600);
            assert!(day_start("2025-13-01").is_err());
            assert!(day_start("yesterday").is_err());
        }
    }
}

pub mod challenges {
    //! The challenge server functions' calls into the service, and their errors' safe faces.

    use backend::challenges::{
        challenge_for_token, confirm_challenge_from, send_challenges, send_to_all_unconfirmed,
        SendReport,
    };
    use backend::roles::Viewer;
    use backend::Portal;
    use domain::mailbox::MailboxType;

    use super::{service_error, with_status};
    use crate::error::AppError;
    use crate::pages::confirm::ChallengeInfo;

    /// Sends challenges for rows (R9).
    pub async fn send(
        portal: &Portal,
        viewer: &Viewer,
        row_ids: &[i64],
    ) -> Result<SendReport, AppError> {
        send_challenges(
            &portal.pool,
            viewer,
            row_ids,
            &portal.config,
            &portal.outbox,
        )
        .await
        .map_err(service_error)
    }

    /// Sends challenges for every row of `domain` with an unconfirmed address.
    pub async fn send_unconfirmed(
        portal: &Portal,
        viewer: &Viewer,
        domain: &str,
    ) -> Result<SendReport, AppError> {
        let Some(d) = viewer.nap_domains.iter().find(|d| d.name == domain) else {
            return Err(with_status(AppError::Forbidden));
        };
        send_to_all_unconfirmed(&portal.pool, viewer, d.id, &portal.config, &portal.outbox)
            .await
            .map_err(service_error)
    }

    /// What a challenge link is about; refused challenges answer with why.
    pub async fn info(portal: &Portal, token: &str) -> Result<ChallengeInfo, AppError> {
        let view = challenge_for_token(&portal.pool, token, backend::clock::now())
            .await
            .map_err(service_error)?;
        if let Some(refusal) = view.refusal {
            return Err(with_status(AppError::Refused(refusal.into())));
        }
        Ok(ChallengeInfo {
            address: view.address,
            row_primary: view.row_primary,
            row_name: view.row_name,
            functional: view.mailbox_type == MailboxType::Functional,
        })
    }

    /// Confirms for the viewer (R10, R11).
    pub async fn confirm(
        portal: &Portal,
        viewer: &Viewer,
        token: &str,
    ) -> Result<ChallengeInfo, AppError> {
        let info = info(portal, token).await?;
        confirm_challenge_from(
            &portal.pool,
            token,
            &viewer.user.user_id,
            &super::request_client(),
            backend::clock::now(),
        )
        .await
        .map_err(service_error)?;
        Ok(info)
    }
}

pub mod certificates {
    //! Conversions between the certificates' wire types and the certificate service.

    use backend::certificates::{
        CertificateRequest, CertificateStatus, CertificateView, KeyChoice, KeySource,
        MyCertificates, RequestableRow,
    };
    use backend::roles::Viewer;
    use backend::Portal;

    use crate::certs_api::*;
    use crate::error::AppError;

    /// The wire's certificate from the service's.
    pub fn to_item(c: CertificateView) -> CertificateItem {
        CertificateItem {
            id: c.id,
            serial: c.serial,
            row_id: c.row_id,
            domain: c.domain,
            row_primary: c.row_primary,
            user_id: c.user_id,
            user_name: c.user_name,
            subject: c.subject,
            addresses: c.addresses,
            server_key: c.key_source == KeySource::Server,
            not_before: c.not_before,
            not_after: c.not_after,
            issued_at: c.issued_at,
            // R23: "expires soon" is judged on the server's clock, so the page and the reminder agree.
            expires_soon: c.status == CertificateStatus::Valid
                && domain::handover::expiring_soon(c.not_after, backend::clock::now()),
            status: match c.status {
                CertificateStatus::Valid => CertificateStatusItem::Valid,
                CertificateStatus::Expired => CertificateStatusItem::Expired,
                CertificateStatus::Revoked { at, reason, by } => {
                    CertificateStatusItem::Revoked { at, reason, by }
                }
            },
            evidence: Vec::new(),
        }
    }

    fn to_row(r: RequestableRow) -> RequestableRowItem {
        RequestableRowItem {
            row_id: r.row_id,
            domain: r.domain,
            primary: r.primary,
            functional: r.functional,
            row_name: r.row_name,
            active: r.active,
            linked_addresses: r.linked_addresses,
            refusal: r.refusal,
            subject_preview: r.subject_preview,
        }
    }

    /// The wire's page content from the service's.
    pub fn to_mine(m: MyCertificates) -> MyCertificatesItem {
        MyCertificatesItem {
            rows: m.rows.into_iter().map(to_row).collect(),
            certificates: m.certificates.into_iter().map(to_item).collect(),
        }
    }

    /// Requests a certificate; a server-made key comes back as base64 PKCS#12, once (R14).
    pub async fn request(
        portal: &Portal,
        viewer: &Viewer,
        row_id: i64,
        addresses: Vec<String>,
        key: KeyChoiceItem,
    ) -> Result<IssuedItem, AppError> {
        use base64::Engine;
        let key = match key {
            KeyChoiceItem::Csr(text) => KeyChoice::Csr(csr_bytes(&text)),
            KeyChoiceItem::ServerKey(password) => KeyChoice::ServerKey {
                password: password.into(),
            },
        };
        let request = CertificateRequest {
            row_id,
            addresses,
            key,
        };
        let issued = backend::certificates::request_certificate(portal, viewer, request)
            .await
            .map_err(super::service_error)?;
        Ok(IssuedItem {
            certificate: to_item(issued.certificate),
            pkcs12_base64: issued
                .pkcs12
                .map(|p| base64::engine::general_purpose::STANDARD.encode(p)),
        })
    }

    /// A pasted CSR: PEM as it is, or base64 of a DER file the page read (the service tells a
    /// PEM from DER by itself).
    fn csr_bytes(text: &str) -> Vec<u8> {
        use base64::Engine;
        let trimmed = text.trim();
        if trimmed.starts_with("-----BEGIN") {
            return trimmed.as_bytes().to_vec();
        }
        base64::engine::general_purpose::STANDARD
            .decode(trimmed.split_whitespace().collect::<String>())
            .unwrap_or_else(|_| trimmed.as_bytes().to_vec())
    }
}
