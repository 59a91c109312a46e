//! The SCIM 2.0 endpoint at `/scim/v2` (SPEC R22), for the IdM: discovery and `/Users`.
//!
//! Every request carries a bearer token an operator made (`Authorization: Bearer rascim_…`);
//! without a valid one the answer is 401 with `WWW-Authenticate: Bearer`. The routes read no
//! cookie, so a browser's session cannot act here and the same-origin check of Q3 does not apply
//! (security.rs lets these paths through). Bodies are read here, at most 1 MiB (413 otherwise),
//! and must be `application/scim+json` or `application/json`. Every answer, refusals included,
//! is `application/scim+json`; refusals are SCIM Error resources. Logs name the route template,
//! never the token (Q6).

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_MATCH, LOCATION, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use backend::scim::resource::Projection;
use backend::scim::tokens::{self, ScimClient};
use backend::scim::users::{self, ListRequest, ScimUser};
use backend::scim::{discovery, ScimError, ScimType, MAX_BODY_BYTES, SEARCH_SCHEMA};
use backend::Portal;
use serde_json::Value;

use crate::app_state::AppState;

/// Where the endpoint is mounted.
pub const SCIM_PREFIX: &str = "/scim/v2";
/// The media type of every answer.
const SCIM_JSON: &str = "application/scim+json";

/// Whether a path belongs to the SCIM endpoint (which takes no cookies; see the module doc).
pub fn is_scim_path(path: &str) -> bool {
    path == SCIM_PREFIX || path.starts_with("/scim/v2/")
}

/// The endpoint's routes, to be nested at [`SCIM_PREFIX`].
pub fn router(state: AppState) -> Router {
    let portal = state.portal.clone();
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
        .route("/Users", get(list_users).post(create_user))
        .route("/Users/.search", post(search_users))
        .route("/.search", post(search_users))
        .route(
            "/Users/{id}",
            get(get_user)
                .put(replace_user)
                .patch(patch_user)
                .delete(delete_user),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(portal, require_token))
        .with_state(state)
}

/// A SCIM answer: status, `application/scim+json` body, and headers.
fn answer(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    resp
}

/// A refusal as a SCIM Error resource; an internal failure is logged with its cause.
struct Refusal(ScimError);

impl From<ScimError> for Refusal {
    fn from(e: ScimError) -> Self {
        Refusal(e)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        if let ScimError::Internal(cause) = &self.0 {
            tracing::error!(error = ?cause, "SCIM request failed");
        }
        let status =
            StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        answer(status, &self.0.to_json())
    }
}

type Answer = Result<Response, Refusal>;

fn base(portal: &Portal) -> String {
    format!("{}{SCIM_PREFIX}", portal.config.base_url())
}

/// Middleware: the bearer token must be one in force; its connection goes to the handlers.
async fn require_token(State(portal): State<Portal>, mut req: Request, next: Next) -> Response {
    let bearer = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
    let client = match bearer {
        None => None,
        Some(token) => match tokens::authenticate(&portal, &token, backend::clock::now()).await {
            Ok(client) => client,
            Err(e) => return Refusal(ScimError::Internal(e)).into_response(),
        },
    };
    let Some(client) = client else {
        let route = crate::metrics::route_template(&req);
        tracing::warn!(method = %req.method(), route, "SCIM request without a valid bearer token refused");
        let mut resp = answer(
            StatusCode::UNAUTHORIZED,
            &ScimError::status(
                401,
                "A bearer token made for the IdM is required (Authorization: Bearer …); this one \
                 is missing, unknown or revoked.",
            )
            .to_json(),
        );
        resp.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"scim\""),
        );
        return resp;
    };
    req.extensions_mut().insert(client);
    next.run(req).await
}

async fn not_found() -> Response {
    Refusal(ScimError::status(
        404,
        "The SCIM endpoint has no such resource.",
    ))
    .into_response()
}

async fn method_not_allowed(req: Request) -> Response {
    Refusal(ScimError::status(
        405,
        format!("This address does not take {} requests.", req.method()),
    ))
    .into_response()
}

/// Reads a JSON body of a SCIM media type, at most [`MAX_BODY_BYTES`].
async fn read_json(headers: &HeaderMap, body: Body) -> Result<Value, ScimError> {
    if let Some(sent) = headers.get(CONTENT_TYPE) {
        let media = String::from_utf8_lossy(sent.as_bytes())
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if media != SCIM_JSON && media != "application/json" {
            return Err(ScimError::status(
                415,
                format!("The body must be {SCIM_JSON} (or application/json), not {media}."),
            ));
        }
    }
    let too_large = || {
        ScimError::status(
            413,
            format!(
                "The request is larger than the {} KiB the SCIM endpoint accepts.",
                MAX_BODY_BYTES / 1024
            ),
        )
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let bytes: Bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            if e.into_inner().is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                ScimError::bad(
                    ScimType::InvalidSyntax,
                    "The request body could not be read.",
                )
            }
        })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ScimError::bad(
            ScimType::InvalidSyntax,
            if bytes.is_empty() {
                "The request body is empty; it must be JSON.".to_string()
            } else {
                format!("The request body is not valid JSON: {e}.")
            },
        )
    })
}

/// The query parameters, by name regardless of case.
struct Params(Vec<(String, String)>);

impl Params {
    fn from(
        query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    ) -> Result<Params, ScimError> {
        match query {
            Ok(Query(pairs)) => Ok(Params(pairs)),
            Err(e) => Err(ScimError::bad(
                ScimType::InvalidSyntax,
                format!("The query string cannot be read: {e}."),
            )),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn number(&self, name: &str) -> Result<Option<i64>, ScimError> {
        self.get(name)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    ScimError::bad(
                        ScimType::InvalidValue,
                        format!("{name} must be a whole number, not {v:?}."),
                    )
                })
            })
            .transpose()
    }

    fn projection(&self) -> Projection {
        Projection::from_lists(self.get("attributes"), self.get("excludedAttributes"))
    }
}

fn user_answer(
    status: StatusCode,
    user: &ScimUser,
    portal: &Portal,
    projection: &Projection,
) -> Response {
    let json = user.to_json(&base(portal));
    let location = json["meta"]["location"].as_str().map(str::to_owned);
    let mut resp = answer(status, &projection.apply(json));
    let headers = resp.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&user.etag()) {
        headers.insert(ETAG, etag);
    }
    if status == StatusCode::CREATED {
        if let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(LOCATION, l);
        }
    }
    resp
}

fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get(IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn service_provider_config(State(portal): State<Portal>) -> Response {
    answer(
        StatusCode::OK,
        &discovery::service_provider_config(&base(&portal)),
    )
}

async fn resource_types(State(portal): State<Portal>) -> Response {
    answer(StatusCode::OK, &discovery::resource_types(&base(&portal)))
}

async fn resource_type(State(portal): State<Portal>, Path(id): Path<String>) -> Answer {
    if id != "User" {
        return Err(ScimError::status(
            404,
            format!("There is no resource type {id:?}; the portal has User."),
        )
        .into());
    }
    Ok(answer(
        StatusCode::OK,
        &discovery::user_resource_type(&base(&portal)),
    ))
}

async fn schemas(State(portal): State<Portal>) -> Response {
    answer(StatusCode::OK, &discovery::schemas(&base(&portal)))
}

async fn schema(State(portal): State<Portal>, Path(id): Path<String>) -> Answer {
    match discovery::schema(&base(&portal), &id) {
        Some(s) => Ok(answer(StatusCode::OK, &s)),
        None => Err(ScimError::status(404, format!("There is no schema {id:?}.")).into()),
    }
}

async fn list_users(
    State(portal): State<Portal>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Answer {
    let params = Params::from(query)?;
    let request = ListRequest {
        filter: params.get("filter").map(str::to_owned),
        start_index: params.number("startIndex")?,
        count: params.number("count")?,
        projection: params.projection(),
    };
    let list = users::list_users(&portal, &request, &base(&portal)).await?;
    Ok(answer(StatusCode::OK, &list))
}

/// `POST /.search` and `POST /Users/.search` (RFC 7644 §3.4.3): the list's parameters in a body.
async fn search_users(State(portal): State<Portal>, headers: HeaderMap, body: Body) -> Answer {
    let body = read_json(&headers, body).await?;
    let Some(search) = body.as_object() else {
        return Err(ScimError::bad(
            ScimType::InvalidSyntax,
            "The body must be a SearchRequest object.",
        )
        .into());
    };
    let field = |name: &str| {
        search
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    if let Some(schemas) = field("schemas") {
        let ok = schemas
            .as_array()
            .is_some_and(|l| l.iter().any(|s| s.as_str() == Some(SEARCH_SCHEMA)));
        if !ok {
            return Err(ScimError::bad(
                ScimType::InvalidSyntax,
                format!("schemas must list {SEARCH_SCHEMA}."),
            )
            .into());
        }
    }
    let text = |name: &str| -> Result<Option<String>, ScimError> {
        match field(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ScimError::bad(
                ScimType::InvalidValue,
                format!("{name} must be a string."),
            )),
        }
    };
    let number = |name: &str| -> Result<Option<i64>, ScimError> {
        match field(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                ScimError::bad(
                    ScimType::InvalidValue,
                    format!("{name} must be a whole number."),
                )
            }),
        }
    };
    let list = |name: &str| -> Result<Option<String>, ScimError> {
        match field(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(|v| Some(v.join(",")))
                .ok_or_else(|| {
                    ScimError::bad(
                        ScimType::InvalidValue,
                        format!("{name} must be a list of attribute names."),
                    )
                }),
            Some(_) => Err(ScimError::bad(
                ScimType::InvalidValue,
                format!("{name} must be a list of attribute names."),
            )),
        }
    };
    let request = ListRequest {
        filter: text("filter")?,
        start_index: number("startIndex")?,
        count: number("count")?,
        projection: Projection::from_lists(
            list("attributes")?.as_deref(),
            list("excludedAttributes")?.as_deref(),
        ),
    };
    let found = users::list_users(&portal, &request, &base(&portal)).await?;
    Ok(answer(StatusCode::OK, &found))
}

async fn get_user(
    State(portal): State<Portal>,
    Path(id): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Answer {
    let params = Params::from(query)?;
    let user = users::get_user(&portal, &id).await?;
    Ok(user_answer(
        StatusCode::OK,
        &user,
        &portal,
        &params.projection(),
    ))
}

async fn create_user(
    State(portal): State<Portal>,
    Extension(client): Extension<ScimClient>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let body = read_json(&headers, body).await?;
    let user = users::create_user(&portal, &client, &body, backend::clock::now()).await?;
    Ok(user_answer(
        StatusCode::CREATED,
        &user,
        &portal,
        &Projection::default(),
    ))
}

async fn replace_user(
    State(portal): State<Portal>,
    Extension(client): Extension<ScimClient>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let body = read_json(&headers, body).await?;
    let user = users::replace_user(
        &portal,
        &client,
        &id,
        &body,
        if_match(&headers).as_deref(),
        backend::clock::now(),
    )
    .await?;
    Ok(user_answer(
        StatusCode::OK,
        &user,
        &portal,
        &Projection::default(),
    ))
}

async fn patch_user(
    State(portal): State<Portal>,
    Extension(client): Extension<ScimClient>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let body = read_json(&headers, body).await?;
    let user = users::patch_user(
        &portal,
        &client,
        &id,
        &body,
        if_match(&headers).as_deref(),
        backend::clock::now(),
    )
    .await?;
    Ok(user_answer(
        StatusCode::OK,
        &user,
        &portal,
        &Projection::default(),
    ))
}

async fn delete_user(
    State(portal): State<Portal>,
    Extension(client): Extension<ScimClient>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Answer {
    users::delete_user(
        &portal,
        &client,
        &id,
        if_match(&headers).as_deref(),
        backend::clock::now(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
