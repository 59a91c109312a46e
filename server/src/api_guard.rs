//! The server functions' input, checked once at the edge for all of them (SPEC Q5, Q9).
//!
//! `server_fn` answers every input it cannot decode with HTTP 500 and a `Transport` error ("error
//! deserializing server function results"), and reads any `Content-Type` as the function's own.
//! This middleware sits in front of every server function instead:
//!
//! * the body must be of the function's declared type — `application/json` for `input = Json`,
//!   `application/x-www-form-urlencoded` for the form functions — else **415**;
//! * the body is read here, bounded by [`MAX_BODY_BYTES`] whether it has a `Content-Length` or is
//!   chunked — else **413**;
//! * a JSON body must be well-formed JSON (no trailing bytes, no lone surrogate) — else **400**;
//! * what `server_fn` still cannot decode (a missing field, a wrong type, an unknown enum value, a
//!   negative page) is well-formed but does not fit the function's arguments — **422**.
//!
//! Every refusal is written in the function's own error type (`AppError`, or `RowSaveError`
//! around it) as `Invalid` with a message naming what is wrong, so the portal's pages show it and
//! any other caller can read it. Genuine server faults stay 500.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leptos::server_fn::codec::Encoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr, SERVER_FN_ERROR_HEADER};
use leptos::server_fn::{Http, ServerFn};

use app::error::AppError;

use crate::security::MAX_BODY_BYTES;

/// Where leptos mounts the server functions.
const API_PREFIX: &str = "/api/";
/// The body type of `input = Json` functions.
const JSON: &str = "application/json";
/// The body type of the form functions (the default `PostUrl`).
const FORM: &str = "application/x-www-form-urlencoded";

/// What the guard knows of one server function.
struct ServerFunction {
    /// Its URL path, `/api/…`.
    path: &'static str,
    /// The media type of the body it decodes.
    content_type: &'static str,
    /// Writes an error in the function's own error type (`AppError` or `RowSaveError`).
    error_body: fn(ServerFnErrorErr) -> Bytes,
}

/// The input encoding of a server function's protocol (its `input = …`).
trait InputEncoding {
    const CONTENT_TYPE: &'static str;
}

impl<Input: Encoding, Output> InputEncoding for Http<Input, Output> {
    const CONTENT_TYPE: &'static str = Input::CONTENT_TYPE;
}

fn server_function<F>() -> ServerFunction
where
    F: ServerFn,
    F::Protocol: InputEncoding,
{
    ServerFunction {
        path: F::PATH,
        content_type: <F::Protocol as InputEncoding>::CONTENT_TYPE,
        error_body: |e| F::Error::from_server_fn_error(e).ser(),
    }
}

/// Every server function of the app. The types give each one's path, body type and error type,
/// so nothing here can drift from the functions; a unit test checks that the list is complete.
fn server_functions() -> [ServerFunction; 42] {
    use app::certs_api::*;
    use app::pages::{audit::*, confirm::*, home::*, operator::*};
    use app::rows_api::*;
    [
        server_function::<app::auth::GetSession>(),
        server_function::<SetLanguage>(),
        server_function::<ListDomains>(),
        server_function::<RegisterDomain>(),
        server_function::<SetContactGroup>(),
        server_function::<ListRows>(),
        server_function::<CreateRow>(),
        server_function::<PreviewEdit>(),
        server_function::<EditRow>(),
        server_function::<SetActive>(),
        server_function::<DeleteRow>(),
        server_function::<SendChallenges>(),
        server_function::<SendToUnconfirmed>(),
        server_function::<ListAudit>(),
        server_function::<GetChallenge>(),
        server_function::<ConfirmChallenge>(),
        server_function::<MyCertificates>(),
        server_function::<RequestCertificate>(),
        server_function::<RevokeOwnCertificate>(),
        server_function::<RowCertificates>(),
        server_function::<RevokeAsNap>(),
        server_function::<RevokeForRows>(),
        server_function::<app::handover_api::DeactivateRows>(),
        server_function::<app::handover_api::ReactivateAndSend>(),
        server_function::<app::handover_api::EditRowForNewPerson>(),
        server_function::<app::handover_api::LeaverWorklist>(),
        server_function::<app::pages::digest_toggle::DigestSetting>(),
        server_function::<app::pages::digest_toggle::SetDigestSetting>(),
        server_function::<app::pages::scim_tokens::ListScimTokens>(),
        server_function::<app::pages::scim_tokens::CreateScimToken>(),
        server_function::<app::pages::scim_tokens::RevokeScimToken>(),
        server_function::<app::deprovision_api::DeprovisionSetting>(),
        server_function::<app::deprovision_api::SetDeprovisionSetting>(),
        server_function::<app::deprovision_api::DeprovisionProposals>(),
        server_function::<app::deprovision_api::AcceptProposal>(),
        server_function::<app::deprovision_api::DismissProposal>(),
        server_function::<app::deprovision_api::HeldDeprovisionings>(),
        server_function::<app::deprovision_api::ConfirmHolds>(),
        server_function::<app::deprovision_api::DiscardHolds>(),
        server_function::<app::api_tokens_api::ListApiTokens>(),
        server_function::<app::api_tokens_api::CreateApiToken>(),
        server_function::<app::api_tokens_api::RevokeApiToken>(),
    ]
}

/// Middleware: checks a server function's body before the function decodes it, and turns what
/// the function could not decode into a 422 (see the module documentation). Other paths pass.
pub async fn guard_server_functions(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    // The REST API under /api/v1 reads and checks its own bodies (server/src/api/body.rs).
    if !path.starts_with(API_PREFIX)
        || req.method() != Method::POST
        || crate::api::is_api_path(path)
    {
        // Other methods find no server function and are refused by the router (405).
        return next.run(req).await;
    }
    // A function missing from the list (the unit test below names it) gets every check but the
    // exact body type: either type of server function, answered as `AppError`.
    let function = server_functions()
        .into_iter()
        .find(|f| f.path == path)
        .unwrap_or(ServerFunction {
            path: "",
            content_type: "",
            error_body: |e| AppError::from_server_fn_error(e).ser(),
        });
    let (parts, body) = req.into_parts();
    let refuse = |status: StatusCode, message: String| {
        let body = in_error_type((function.error_body)(placeholder()), message);
        error_response(status, parts.uri.path(), body)
    };

    let declared_length = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large(refuse);
    }
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return too_large(refuse),
        Err(BodyError::Unreadable(why)) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("The request body could not be read: {why}."),
            )
        }
    };

    let takes = if function.content_type.is_empty() {
        vec![JSON, FORM]
    } else {
        vec![function.content_type]
    };
    let sent_type = parts.headers.get(CONTENT_TYPE).map(media_type);
    match sent_type.as_deref() {
        Some(t) if takes.contains(&t) => {}
        // A call without arguments (the session) may come without a body and so without a type.
        None if body.is_empty() => {}
        Some(t) => {
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "This function takes a body of type {}, not {t}.",
                    takes.join(" or ")
                ),
            )
        }
        None => {
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "The request names no Content-Type; this function takes {}.",
                    takes.join(" or ")
                ),
            )
        }
    }
    if sent_type.as_deref() == Some(JSON) {
        // A full parse: skipping (`IgnoredAny`) would not check strings for lone surrogates or
        // invalid UTF-8. serde_json also bounds the nesting depth (128).
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(&body) {
            let why = if body.is_empty() {
                "the body is empty".to_string()
            } else {
                e.to_string()
            };
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("The request body is not valid JSON: {why}."),
            );
        }
    }

    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    undecodable_arguments_are_422(response).await
}

/// Any error of the function's type; [`in_error_type`] replaces its `Transport` part.
fn placeholder() -> ServerFnErrorErr {
    ServerFnErrorErr::Args(String::new())
}

fn too_large(refuse: impl Fn(StatusCode, String) -> Response) -> Response {
    refuse(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "Refused: the request is larger than the {} KiB this endpoint accepts.",
            MAX_BODY_BYTES / 1024
        ),
    )
}

enum BodyError {
    TooLarge,
    Unreadable(String),
}

/// Reads the whole body, at most [`MAX_BODY_BYTES`] of it, also when it is chunked (no length).
async fn read_body(body: Body) -> Result<Bytes, BodyError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            let cause = e.into_inner();
            if cause.is::<http_body_util::LengthLimitError>() {
                BodyError::TooLarge
            } else {
                BodyError::Unreadable(cause.to_string())
            }
        })
}

/// The media type of a `Content-Type` value, lower case, without parameters (`; charset=…`).
fn media_type(value: &HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes())
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// `server_fn` answers an argument it could not decode with 500 and a `Transport` error. Those
/// (and only those: a fault in the function stays 500) become 422 with `Invalid` and a message.
async fn undecodable_arguments_are_422(response: Response) -> Response {
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key(SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    // An error body is a short JSON message; anything larger is passed on untouched below.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        tracing::error!("a server function's error body could not be read");
        return (StatusCode::INTERNAL_SERVER_ERROR, "Internal error.").into_response();
    };
    let why = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| transport_message(&v).and_then(decoding_failure));
    let Some(why) = why else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let body = in_error_type(
        bytes,
        format!("The arguments do not fit this function: {why}."),
    );
    let mut response = Response::from_parts(parts, Body::from(body));
    *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    response
}

/// The `Transport` message inside an error body (`AppError` or an error wrapping it).
fn transport_message(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Object(map) => match map.get("Transport") {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            _ => map.values().find_map(transport_message),
        },
        _ => None,
    }
}

/// What was wrong with the arguments, when a `Transport` message is a decoding failure of
/// `server_fn` on the server (it calls a JSON body it cannot decode "results").
fn decoding_failure(message: String) -> Option<String> {
    [
        "error deserializing server function results: ",
        "error deserializing server function arguments: ",
        "missing argument ",
    ]
    .iter()
    .find_map(|prefix| message.strip_prefix(prefix).map(str::to_string))
}

/// `error_body` (an error of a function's type) with its `Transport` part replaced by
/// `Invalid(message)`, so the function's callers read it as they read its own refusals.
fn in_error_type(error_body: Bytes, message: String) -> String {
    let invalid = serde_json::to_value(AppError::Invalid(message)).expect("AppError serialises");
    match serde_json::from_slice::<serde_json::Value>(&error_body) {
        Ok(mut value) => {
            if replace_transport(&mut value, &invalid) {
                value.to_string()
            } else {
                invalid.to_string()
            }
        }
        Err(_) => invalid.to_string(),
    }
}

/// A JSON error answer as `server_fn` writes one: the header tells its client to read the body
/// as the function's error.
fn error_response(status: StatusCode, path: &str, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(path) = HeaderValue::from_str(path) {
        headers.insert(SERVER_FN_ERROR_HEADER, path);
    }
    response
}

fn replace_transport(value: &mut serde_json::Value, invalid: &serde_json::Value) -> bool {
    let serde_json::Value::Object(map) = value else {
        return false;
    };
    if map.contains_key("Transport") {
        *value = invalid.clone();
        return true;
    }
    map.values_mut().any(|v| replace_transport(v, invalid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q9_every_registered_server_function_is_known_to_the_guard() {
        let known: Vec<_> = server_functions().iter().map(|f| f.path).collect();
        let registered: Vec<_> = leptos::server_fn::axum::server_fn_paths().collect();
        assert!(!registered.is_empty());
        for (path, _method) in registered {
            assert!(
                known.contains(&path),
                "{path} is missing from server_functions() in server/src/api_guard.rs: add it, \
                 so that the guard enforces its body type"
            );
        }
    }

    #[test]
    fn q9_a_refusal_keeps_the_shape_of_the_functions_error_type() {
        let edit_row = server_functions()
            .into_iter()
            .find(|f| f.path.ends_with("/rows/edit"))
            .unwrap();
        let body = in_error_type(
            (edit_row.error_body)(placeholder()),
            "The request body is not valid JSON.".into(),
        );
        let decoded: app::rows_api::RowSaveError = serde_json::from_str(&body).unwrap();
        assert_eq!(
            decoded,
            app::rows_api::RowSaveError::Other(AppError::Invalid(
                "The request body is not valid JSON.".into()
            ))
        );
        let list_rows = server_functions()
            .into_iter()
            .find(|f| f.path.ends_with("/rows/list"))
            .unwrap();
        let body = in_error_type((list_rows.error_body)(placeholder()), "Bad.".into());
        let decoded: AppError = serde_json::from_str(&body).unwrap();
        assert_eq!(decoded, AppError::Invalid("Bad.".into()));
    }

    #[test]
    fn q9_only_decoding_failures_become_422() {
        assert_eq!(
            decoding_failure("error deserializing server function results: EOF".into()),
            Some("EOF".into())
        );
        assert_eq!(
            decoding_failure(
                "error deserializing server function arguments: unknown variant `Fr`".into()
            ),
            Some("unknown variant `Fr`".into())
        );
        assert_eq!(
            decoding_failure("error serializing server function arguments: x".into()),
            None
        );
        assert_eq!(decoding_failure("error creating response x".into()), None);
    }
}
