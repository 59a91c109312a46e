//! The one answer of a plain route (a file download or the CSV upload, not a server function) to
//! a service's refusal: the status of the error's kind, and its message worded in the reader's
//! language (the `lang` cookie, else Accept-Language), by the same wording the pages use. An
//! internal failure says only that, with its cause in the log (STYLE 5, Q6).

use app::i18n::Lang;
use axum::http::header::ACCEPT_LANGUAGE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use backend::ServiceError;

/// The answer to `e` for a request with `headers`.
pub fn refuse(headers: &HeaderMap, e: ServiceError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let Some(message) = e.message() else {
        tracing::error!(error = ?e, "a plain route failed");
        return (status, "Internal error; the details are in the server log.").into_response();
    };
    let lang = Lang::negotiate(
        app::on_server::cookie_in(headers, "lang").as_deref(),
        headers.get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()),
    );
    let text = app::messages::say(lang, message);
    let mut first = text.chars();
    let sentence = first
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + first.as_str())
        .unwrap_or_default();
    (status, sentence).into_response()
}
