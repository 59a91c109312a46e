//! A domain's address table through the API (SPEC §2, R1–R8, R19, R21): list with a cursor,
//! read one (by id or primary address), create, replace with `If-Match`, upsert by primary
//! address, delete (R3), activate, and deactivate as the one-step leaver (R19). Every call goes
//! through the services the UI's server functions use, with the token's viewer, so the same rules
//! apply and the same audit records are written, with the token as actor.

use axum::extract::State;
use axum::http::header::{ETAG, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use backend::rows::{self as service, RowInput, RowQuery, RowView, SortKey, StateFilter};
use domain::certificate::RevocationReason;
use domain::mailbox::MailboxType;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::body::{
    bounded, etag, if_match, required_if_match, ApiJson, ApiPath, ApiQuery, IfMatch, OptionalJson,
};
use super::cursor;
use super::problem::{Problem, ProblemKind};
use super::refusals::{
    DomainNotFound, IfMatchRefusals, JsonBodyRefusals, ReadRefusals, RowNotFound, WriteRefusals,
};
use crate::app_state::AppState;

/// Personal or functional (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MailboxKind {
    /// One person's mailbox.
    #[default]
    Personal,
    /// A shared or role mailbox with an applicant.
    Functional,
}

impl From<MailboxType> for MailboxKind {
    fn from(t: MailboxType) -> Self {
        match t {
            MailboxType::Personal => MailboxKind::Personal,
            MailboxType::Functional => MailboxKind::Functional,
        }
    }
}

impl From<MailboxKind> for MailboxType {
    fn from(k: MailboxKind) -> Self {
        match k {
            MailboxKind::Personal => MailboxType::Personal,
            MailboxKind::Functional => MailboxType::Functional,
        }
    }
}

/// A row of the table.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Row {
    /// The row's id.
    pub id: i64,
    /// The domain whose table it is in.
    pub domain: String,
    /// The primary (sender) address; never changes (R2).
    pub primary_address: String,
    /// First name (empty on functional rows).
    pub first_name: String,
    /// Last name, or the functional mailbox's name.
    pub last_name: String,
    /// Further addresses of the mailbox.
    pub aliases: Vec<String>,
    /// Personal or functional.
    pub mailbox_type: MailboxKind,
    /// A functional row's applicant; `null` on personal rows.
    pub applicant_address: Option<String>,
    /// The NAP's note.
    pub comment: String,
    /// Active (R7).
    pub active: bool,
    /// The row's version (its change counter), also its `ETag`: send it back as `If-Match`.
    pub version: i64,
    /// A challenge was ever sent, so the row can only be deactivated, not deleted (R3).
    pub challenged: bool,
    /// Every address with its challenge state: the primary first, then the aliases.
    pub addresses: Vec<Address>,
    /// The row's valid certificates (R17), soonest expiry first.
    pub certificates: Vec<HeldCertificate>,
    /// Last change (Unix seconds).
    pub updated_at: i64,
}

/// One address of a row and where it stands (SPEC §3, R17, R18).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Address {
    /// The address.
    pub address: String,
    /// Whether it is the row's primary address.
    pub is_primary: bool,
    /// Its challenge state.
    pub state: AddressStateName,
    /// When that state began (pending since, confirmed, superseded or expired at; Unix
    /// seconds); `null` when never sent.
    pub state_since: Option<i64>,
    /// The user the address is linked to, whatever its challenge state.
    pub link: Option<Link>,
    /// Delivery of the latest challenge's mail.
    pub delivery: Option<Delivery>,
}

/// An address's challenge state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AddressStateName {
    /// No challenge was ever sent for it in this row.
    NeverSent,
    /// A challenge waits for confirmation.
    Pending,
    /// Linked to a user.
    Confirmed,
    /// The last challenge was superseded.
    Superseded,
    /// The last challenge expired unconfirmed.
    Expired,
}

/// The user an address is linked to (R11, R17).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Link {
    /// The linked user ID.
    pub user_id: String,
    /// Their name from the IdM.
    pub user_name: String,
    /// When the link was made (Unix seconds).
    pub since: i64,
    /// R18: a newer round was sent, so the link allows no request until it is confirmed.
    pub suspended: bool,
}

/// Where the mail of an address's latest challenge is.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    /// `queued`, `sent` or `failed`.
    pub state: DeliveryState,
    /// The relay's last reply when it refused (queued: temporarily; failed: for good).
    pub error: Option<String>,
}

/// A challenge mail's delivery state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for the outbox worker.
    Queued,
    /// Accepted by the relay.
    Sent,
    /// Given up.
    Failed,
}

/// A valid certificate of a row (R17).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HeldCertificate {
    /// The certificate's id.
    pub id: i64,
    /// Serial number, lower-case hex.
    pub serial: String,
    /// Who holds it.
    pub user_id: String,
    /// Their name from the IdM.
    pub user_name: String,
    /// End of validity (Unix seconds).
    pub not_after: i64,
    /// Within 30 days of its end.
    pub expiring_soon: bool,
}

impl From<RowView> for Row {
    fn from(v: RowView) -> Row {
        use backend::rows::{AddressState as S, MailDelivery as D};
        Row {
            id: v.id,
            domain: v.domain,
            primary_address: v.primary,
            first_name: v.first_name,
            last_name: v.last_name,
            aliases: v.aliases,
            mailbox_type: v.mailbox_type.into(),
            applicant_address: v.applicant,
            comment: v.comment,
            active: v.active,
            version: v.version,
            challenged: v.challenged,
            addresses: v
                .addresses
                .into_iter()
                .map(|a| {
                    let (state, state_since) = match a.state {
                        S::NeverSent => (AddressStateName::NeverSent, None),
                        S::Pending { since } => (AddressStateName::Pending, Some(since)),
                        S::Confirmed { at, .. } => (AddressStateName::Confirmed, Some(at)),
                        S::Superseded { at } => (AddressStateName::Superseded, Some(at)),
                        S::Expired { at } => (AddressStateName::Expired, Some(at)),
                    };
                    Address {
                        address: a.address,
                        is_primary: a.is_primary,
                        state,
                        state_since,
                        link: a.link.map(|l| Link {
                            user_id: l.user_id,
                            user_name: l.user_name,
                            since: l.since,
                            suspended: l.suspended,
                        }),
                        delivery: a.delivery.map(|d| match d {
                            D::Queued { last_error } => Delivery {
                                state: DeliveryState::Queued,
                                error: last_error,
                            },
                            D::Sent => Delivery {
                                state: DeliveryState::Sent,
                                error: None,
                            },
                            D::Failed { reason } => Delivery {
                                state: DeliveryState::Failed,
                                error: Some(reason),
                            },
                        }),
                    }
                })
                .collect(),
            certificates: v
                .certificates
                .into_iter()
                .map(|c| HeldCertificate {
                    id: c.id,
                    serial: c.serial,
                    user_id: c.user_id,
                    user_name: c.user_name,
                    not_after: c.not_after,
                    expiring_soon: c.expiring_soon,
                })
                .collect(),
            updated_at: v.updated_at,
        }
    }
}

/// Declares a request body that carries all of a row's editable fields (what is left out is
/// emptied; the primary address is never editable, R2) and some fields of its own. One list of
/// fields for the three bodies, not `#[serde(flatten)]`: serde cannot refuse unknown fields of a
/// flattened struct, and a misspelt field must be a 422, not silently dropped.
macro_rules! row_body {
    ($(#[$doc:meta])* $name:ident { $($(#[$own_doc:meta])* $own:ident: $own_type:ty,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$own_doc])* pub $own: $own_type,)*
            /// First name (leave empty on functional rows).
            #[serde(default)]
            pub first_name: String,
            /// Last name, or the functional mailbox's name.
            #[serde(default)]
            pub last_name: String,
            /// Further addresses of the mailbox (at most 50).
            #[serde(default)]
            #[schema(max_items = 50)]
            pub aliases: Vec<String>,
            /// Personal (the default) or functional.
            #[serde(default)]
            pub mailbox_type: Option<MailboxKind>,
            /// A functional row's applicant (required there, forbidden on personal rows).
            #[serde(default)]
            pub applicant_address: Option<String>,
            /// The NAP's note.
            #[serde(default)]
            pub comment: String,
        }

        impl $name {
            /// The fields as the services read them.
            fn input(&self) -> RowInput {
                RowInput {
                    first_name: self.first_name.clone(),
                    last_name: self.last_name.clone(),
                    // The services read aliases as the form has them: separated by spaces.
                    aliases: self.aliases.join(" "),
                    mailbox_type: self
                        .mailbox_type
                        .map(|k| MailboxType::from(k).as_str().to_owned())
                        .unwrap_or_default(),
                    applicant: self.applicant_address.clone().unwrap_or_default(),
                    comment: self.comment.clone(),
                }
            }
        }
    };
}

row_body! {
    /// A new row: its primary address and fields.
    NewRow {
        /// The primary (sender) address, in a domain the token covers; fixed for good (R2).
        primary_address: String,
    }
}

row_body! {
    /// A row's editable fields, all of them (what is left out is emptied); the primary address
    /// is never editable (R2).
    RowFields {}
}

row_body! {
    /// The upsert's body: the editable fields and, optionally, whether the row is active.
    UpsertRow {
        /// Active or not; left out, a new row is active and an existing one keeps its state. Setting
        /// it false deactivates like a CSV line with `Active` no (R8): certificates are not revoked,
        /// the row goes on the leaver worklist; `POST …/deactivate` is the one-step leaver (R19).
        #[serde(default)]
        active: Option<bool>,
    }
}

/// A row with its `ETag`.
fn row_response(status: StatusCode, view: RowView) -> Response {
    let tag = etag(view.version);
    let mut resp = (status, Json(Row::from(view))).into_response();
    resp.headers_mut().insert(ETAG, tag);
    resp
}

/// The row `id` of the caller's domain `domain` (404 for one of another table).
async fn row_of_domain(
    state: &AppState,
    caller: &Caller,
    domain: &str,
    id: i64,
) -> Result<RowView, Problem> {
    let dom = caller.domain(domain)?;
    let view = service::get_row(&state.portal.pool, caller.viewer(), id).await?;
    if view.domain != dom.name {
        return Err(Problem::not_found("row"));
    }
    Ok(view)
}

// ---------------------------------------------------------------------------------------------
// Listing
// ---------------------------------------------------------------------------------------------

/// The table's sort columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortName {
    /// Primary address.
    #[default]
    PrimaryAddress,
    /// Last name, then first name.
    LastName,
    /// First name, then last name.
    FirstName,
    /// Mailbox type, then primary address.
    MailboxType,
    /// Inactive first (ascending), then primary address.
    Active,
    /// Time of the last change.
    UpdatedAt,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Ascending.
    #[default]
    Asc,
    /// Descending.
    Desc,
}

/// Rows with an address in this state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateName {
    /// An address is confirmed (linked, no new round pending).
    Confirmed,
    /// An address has a pending challenge.
    Pending,
    /// An address never had a challenge.
    NeverSent,
}

/// Filter, sort and page of the row list. With `cursor` (a previous page's `next_cursor`) the
/// filter and sort come from the cursor and only `limit` may be given anew.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RowListParams {
    /// Case-insensitive part of any address or of the first or last name.
    #[param(max_length = 254)]
    pub search: Option<String>,
    /// Only active (`true`) or inactive (`false`) rows.
    pub active: Option<bool>,
    /// Only rows of this type.
    #[param(inline)]
    pub mailbox_type: Option<MailboxKind>,
    /// Only rows with an address in this state.
    #[param(inline)]
    pub state: Option<StateName>,
    /// Sort column (default `primary_address`).
    #[param(inline)]
    pub sort: Option<SortName>,
    /// Sort direction (default `asc`).
    #[param(inline)]
    pub order: Option<Order>,
    /// Rows per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Where to continue: a previous page's `next_cursor`.
    #[param(max_length = 2048)]
    pub cursor: Option<String>,
}

/// One page of rows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowList {
    /// The rows of this page.
    pub rows: Vec<Row>,
    /// How many rows match the filter in all.
    pub total: u64,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn limit_of(limit: Option<u32>) -> Result<Option<u32>, Problem> {
    match limit {
        Some(n) if !(1..=service::MAX_PAGE_SIZE).contains(&n) => Err(Problem::bad_request(
            format!("limit must be 1 to {}, not {n}.", service::MAX_PAGE_SIZE),
        )),
        other => Ok(other),
    }
}

fn query_of(p: RowListParams) -> Result<RowQuery, Problem> {
    let limit = limit_of(p.limit)?;
    bounded("search", p.search.as_deref(), 254)?;
    bounded("cursor", p.cursor.as_deref(), cursor::MAX_CHARS)?;
    if let Some(c) = p.cursor.as_deref() {
        let mut query: RowQuery = cursor::decode(c)?;
        if let Some(service::Anchor::AfterValues { key, .. }) = &query.anchor {
            if !query.sort.fits(key) {
                return Err(cursor::unreadable());
            }
        }
        if let Some(n) = limit {
            query.page_size = n;
        }
        return Ok(query);
    }
    Ok(RowQuery {
        search: p.search.unwrap_or_default(),
        active: p.active,
        mailbox_type: p.mailbox_type.map(MailboxType::from),
        state: p.state.map(|s| match s {
            StateName::Confirmed => StateFilter::Confirmed,
            StateName::Pending => StateFilter::Pending,
            StateName::NeverSent => StateFilter::NeverSent,
        }),
        sort: match p.sort.unwrap_or_default() {
            SortName::PrimaryAddress => SortKey::Primary,
            SortName::LastName => SortKey::LastName,
            SortName::FirstName => SortKey::FirstName,
            SortName::MailboxType => SortKey::Type,
            SortName::Active => SortKey::Active,
            SortName::UpdatedAt => SortKey::Updated,
        },
        descending: p.order == Some(Order::Desc),
        page: 0,
        page_size: limit.unwrap_or(service::DEFAULT_PAGE_SIZE),
        anchor: None,
    })
}

/// List a domain's rows.
///
/// Filtered and sorted as the table is; paged with an opaque cursor that continues after the
/// last row of the page (as fast for page 1 000 as for page 1).
#[utoipa::path(
    get, path = "/domains/{domain}/rows", tag = "rows",
    params(("domain" = String, Path, description = "The domain's name"), RowListParams),
    responses(
        (status = 200, description = "A page of rows", body = RowList),
        (status = 400, description = "A parameter or the cursor cannot be read", body = Problem, content_type = "application/problem+json"),
        ReadRefusals, DomainNotFound,
    )
)]
pub async fn list_rows(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(domain): ApiPath<String>,
    ApiQuery(params): ApiQuery<RowListParams>,
) -> Result<Json<RowList>, Problem> {
    let dom = caller.domain(&domain)?;
    let query = query_of(params)?;
    let page = service::list_rows(
        &state.portal.pool,
        &state.portal.search_matches,
        caller.viewer(),
        &dom.name,
        &query,
    )
    .await?;
    // A full page may have more after it, whatever `total` (counted now) says: rows deleted
    // before the cursor would otherwise end the list early. At worst the last page is empty.
    let next_cursor = match page.rows.last() {
        Some(last) if page.rows.len() == page.page_size as usize => {
            let next = |anchor| {
                cursor::encode(&RowQuery {
                    page: page.page + 1,
                    page_size: page.page_size,
                    anchor: Some(anchor),
                    ..query.clone()
                })
            };
            // The next page goes on after the last row's sort values, not after the row: a
            // script's next page must not skip or repeat rows when someone deletes or edits that
            // row meanwhile. Only names too long for a cursor (up to 2 x 200 characters of
            // four-byte letters beside a long search) fall back to the row's id, which is as
            // good unless that very row changes in between.
            let by_values = next(service::Anchor::AfterValues {
                key: query.sort.values_of(last),
                id: last.id,
            });
            Some(if by_values.len() <= cursor::MAX_CHARS {
                by_values
            } else {
                next(service::Anchor::After(last.id))
            })
        }
        _ => None,
    };
    Ok(Json(RowList {
        rows: page.rows.into_iter().map(Row::from).collect(),
        total: page.total,
        next_cursor,
    }))
}

// ---------------------------------------------------------------------------------------------
// One row
// ---------------------------------------------------------------------------------------------

/// Read one row.
#[utoipa::path(
    get, path = "/domains/{domain}/rows/{id}", tag = "rows",
    params(("domain" = String, Path, description = "The domain's name"), ("id" = i64, Path, description = "The row's id")),
    responses(
        (status = 200, description = "The row; `ETag` is its version", body = Row,
            headers(("ETag" = String, description = "The row's version, for If-Match"))),
        (status = 400, description = "The id is not a number", body = Problem, content_type = "application/problem+json"),
        ReadRefusals, RowNotFound,
    )
)]
pub async fn get_row(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((domain, id)): ApiPath<(String, i64)>,
) -> Result<Response, Problem> {
    let view = row_of_domain(&state, &caller, &domain, id).await?;
    Ok(row_response(StatusCode::OK, view))
}

/// Create a row.
///
/// The row is active and has no challenge yet. The primary address must lie in this domain's
/// table and be unused in the whole portal.
#[utoipa::path(
    post, path = "/domains/{domain}/rows", tag = "rows",
    params(("domain" = String, Path, description = "The domain's name")),
    request_body = NewRow,
    responses(
        (status = 201, description = "Created; `Location` names it", body = Row,
            headers(("ETag" = String), ("Location" = String))),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The row breaks rules; `errors` names the fields", body = Problem, content_type = "application/problem+json"),
        WriteRefusals, JsonBodyRefusals, DomainNotFound,
    )
)]
pub async fn create_row(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(domain): ApiPath<String>,
    ApiJson(body): ApiJson<NewRow>,
) -> Result<Response, Problem> {
    let viewer = caller.writer()?;
    let dom = caller.domain(&domain)?;
    let view = service::create_row(
        &state.portal.pool,
        viewer,
        &dom.name,
        &body.primary_address,
        &body.input(),
    )
    .await?;
    // A primary address of a more specific registered domain lands in that table (SPEC §2).
    let location = format!(
        "{}/domains/{}/rows/{}",
        super::paths::API_PREFIX,
        view.domain,
        view.id
    );
    let mut resp = row_response(StatusCode::CREATED, view);
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    Ok(resp)
}

/// Replace a row's fields.
///
/// `If-Match` must carry the `ETag` of the row as last read: when the row changed since, nothing
/// is written and the answer is 412. The rules of a hand edit apply (R4–R6: changing aliases,
/// applicant or type supersedes pending challenges and may drop links).
#[utoipa::path(
    put, path = "/domains/{domain}/rows/{id}", tag = "rows",
    params(
        ("domain" = String, Path, description = "The domain's name"),
        ("id" = i64, Path, description = "The row's id"),
        ("If-Match" = String, Header, description = "The row's ETag from the last read"),
    ),
    request_body = RowFields,
    responses(
        (status = 200, description = "Saved", body = Row, headers(("ETag" = String))),
        (status = 400, description = "The body or If-Match cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The fields break rules", body = Problem, content_type = "application/problem+json"),
        WriteRefusals, JsonBodyRefusals, IfMatchRefusals, RowNotFound,
    )
)]
pub async fn update_row(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((domain, id)): ApiPath<(String, i64)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RowFields>,
) -> Result<Response, Problem> {
    let viewer = caller.writer()?;
    let condition = required_if_match(&headers)?;
    let row = row_of_domain(&state, &caller, &domain, id).await?;
    let version = condition.check(row.version)?.unwrap_or(row.version);
    let view = service::edit_row(&state.portal.pool, viewer, id, version, &body.input()).await?;
    Ok(row_response(StatusCode::OK, view))
}

/// Delete a row that never had a challenge (R3); after one it can only be deactivated.
#[utoipa::path(
    delete, path = "/domains/{domain}/rows/{id}", tag = "rows",
    params(
        ("domain" = String, Path, description = "The domain's name"),
        ("id" = i64, Path, description = "The row's id"),
        ("If-Match" = String, Header, description = "The row's ETag from the last read"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "If-Match cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The row had a challenge (R3)", body = Problem, content_type = "application/problem+json"),
        WriteRefusals, IfMatchRefusals, RowNotFound,
    )
)]
pub async fn delete_row(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((domain, id)): ApiPath<(String, i64)>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let viewer = caller.writer()?;
    let condition = required_if_match(&headers)?;
    let row = row_of_domain(&state, &caller, &domain, id).await?;
    let version = condition.check(row.version)?.unwrap_or(row.version);
    service::delete_row(&state.portal.pool, viewer, id, version).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// By primary address
// ---------------------------------------------------------------------------------------------

/// Read the row with this primary address.
#[utoipa::path(
    get, path = "/domains/{domain}/rows/by-address/{address}", tag = "rows",
    params(
        ("domain" = String, Path, description = "The domain's name"),
        ("address" = String, Path, description = "The row's primary address"),
    ),
    responses(
        (status = 200, description = "The row", body = Row, headers(("ETag" = String))),
        (status = 400, description = "The address cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an email address", body = Problem, content_type = "application/problem+json"),
        ReadRefusals, RowNotFound,
    )
)]
pub async fn get_row_by_address(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((domain, address)): ApiPath<(String, String)>,
) -> Result<Response, Problem> {
    let dom = caller.domain(&domain)?;
    let view = backend::row_lookup::row_by_primary(
        &state.portal.pool,
        caller.viewer(),
        &dom.name,
        &address,
    )
    .await?
    .ok_or_else(|| Problem::not_found("row"))?;
    Ok(row_response(StatusCode::OK, view))
}

/// Create or update the row with this primary address (idempotent).
///
/// A new address creates the row (201); an existing one gets the fields (200), by the rules of a
/// hand edit; sending the same body again changes nothing and writes no audit record. With
/// `If-Match`, an existing row must still be at that version (412 otherwise, also when there is
/// no row). It is one transaction: when any part is refused (a field, the version), nothing
/// changes.
#[utoipa::path(
    put, path = "/domains/{domain}/rows/by-address/{address}", tag = "rows",
    params(
        ("domain" = String, Path, description = "The domain's name"),
        ("address" = String, Path, description = "The row's primary address"),
        ("If-Match" = Option<String>, Header, description = "The row's ETag, to update only that version"),
    ),
    request_body = UpsertRow,
    responses(
        (status = 200, description = "Updated (or unchanged)", body = Row, headers(("ETag" = String))),
        (status = 201, description = "Created", body = Row, headers(("ETag" = String), ("Location" = String))),
        (status = 400, description = "The body or If-Match cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The row changed since that version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The row breaks rules", body = Problem, content_type = "application/problem+json"),
        WriteRefusals, JsonBodyRefusals, DomainNotFound,
    )
)]
pub async fn upsert_row(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((domain, address)): ApiPath<(String, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<UpsertRow>,
) -> Result<Response, Problem> {
    let viewer = caller.writer()?;
    let dom = caller.domain(&domain)?;
    let expected = if_match(&headers)?;
    let pool = &state.portal.pool;
    let active = body.active;
    let input = body.input();
    // One write transaction (backend::rows::upsert_row): If-Match is judged against the version
    // the change is made on, and a refusal of any part (fields, active) writes nothing.
    let (upserted, view) = service::upsert_row(
        pool,
        viewer,
        &dom.name,
        &address,
        &input,
        active,
        |current| match current {
            Some(version) => expected.check(version).map(|_| ()),
            // `*` and a version are both false without a current row (RFC 9110 §13.1.1).
            None if expected != IfMatch::Absent => Err(Problem::new(
                ProblemKind::PreconditionFailed,
                "If-Match names a version, but there is no row with this primary address.",
            )),
            None => Ok(()),
        },
    )
    .await?;
    let status = match upserted {
        service::Upserted::Created => StatusCode::CREATED,
        service::Upserted::Existed => StatusCode::OK,
    };
    let location = format!(
        "{}/domains/{}/rows/{}",
        super::paths::API_PREFIX,
        view.domain,
        view.id
    );
    let mut resp = row_response(status, view);
    if status == StatusCode::CREATED {
        if let Ok(v) = HeaderValue::from_str(&location) {
            resp.headers_mut().insert(LOCATION, v);
        }
    }
    Ok(resp)
}

// ---------------------------------------------------------------------------------------------
// Activate, deactivate
// ---------------------------------------------------------------------------------------------

/// Reactivate a row (R7). Its links survive: no new challenge is needed (send one with
/// `POST …/challenges` when the mailbox changed hands, R18).
#[utoipa::path(
    post, path = "/domains/{domain}/rows/{id}/activate", tag = "rows",
    params(
        ("domain" = String, Path, description = "The domain's name"),
        ("id" = i64, Path, description = "The row's id"),
        ("If-Match" = Option<String>, Header, description = "The row's ETag, to act only on that version"),
    ),
    responses(
        (status = 200, description = "The row, active", body = Row, headers(("ETag" = String))),
        (status = 400, description = "If-Match cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The row changed since that version", body = Problem, content_type = "application/problem+json"),
        WriteRefusals, RowNotFound,
    )
)]
pub async fn activate_row(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((domain, id)): ApiPath<(String, i64)>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let viewer = caller.writer()?;
    let expected = if_match(&headers)?;
    let row = row_of_domain(&state, &caller, &domain, id).await?;
    let version = expected.check(row.version)?.unwrap_or(row.version);
    let view = service::set_active(&state.portal.pool, viewer, &[(id, version)], true)
        .await?
        .pop()
        .ok_or_else(|| Problem::not_found("row"))?;
    Ok(row_response(StatusCode::OK, view))
}

/// How to deactivate.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Deactivate {
    /// Revoke the row's valid certificates in the same step (R19; default true). False leaves
    /// them valid and puts the row on the leaver worklist.
    #[serde(default = "yes")]
    pub revoke: bool,
    /// The revocation reason (RFC 5280 name; default `affiliationChanged`).
    #[serde(default)]
    pub reason: Option<ReasonName>,
}

fn yes() -> bool {
    true
}

impl Default for Deactivate {
    fn default() -> Self {
        Deactivate {
            revoke: true,
            reason: None,
        }
    }
}

/// A revocation reason (RFC 5280 CRLReason names; R15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ReasonName {
    /// The key is or may be known to someone else.
    KeyCompromise,
    /// The holder left or the mailbox changed hands.
    AffiliationChanged,
    /// Replaced by a new certificate.
    Superseded,
    /// The mailbox is no longer used.
    CessationOfOperation,
    /// The holder may no longer use the certificate.
    PrivilegeWithdrawn,
}

impl From<ReasonName> for RevocationReason {
    fn from(r: ReasonName) -> Self {
        match r {
            ReasonName::KeyCompromise => RevocationReason::KeyCompromise,
            ReasonName::AffiliationChanged => RevocationReason::AffiliationChanged,
            ReasonName::Superseded => RevocationReason::Superseded,
            ReasonName::CessationOfOperation => RevocationReason::CessationOfOperation,
            ReasonName::PrivilegeWithdrawn => RevocationReason::PrivilegeWithdrawn,
        }
    }
}

/// What a deactivation did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Deactivated {
    /// The row, inactive.
    pub row: Row,
    /// How many certificates were revoked with it.
    pub revoked: usize,
}

/// Deactivate a row: the leaver in one step (R19).
///
/// The row's valid certificates are revoked in the same transaction (reason
/// `affiliationChanged` unless given), the CRL is re-signed, the holders are mailed. While
/// inactive, no challenge can be sent or confirmed and no certificate requested (R7).
#[utoipa::path(
    post, path = "/domains/{domain}/rows/{id}/deactivate", tag = "rows",
    params(
        ("domain" = String, Path, description = "The domain's name"),
        ("id" = i64, Path, description = "The row's id"),
        ("If-Match" = Option<String>, Header, description = "The row's ETag, to act only on that version"),
    ),
    request_body(content = Option<Deactivate>, description = "Optional; the defaults revoke with affiliationChanged"),
    responses(
        (status = 200, description = "The row, inactive, and how many certificates were revoked", body = Deactivated,
            headers(("ETag" = String))),
        (status = 400, description = "The body or If-Match cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A certificate of the row cannot be revoked now", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The row changed since that version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body does not fit", body = Problem, content_type = "application/problem+json"),
        WriteRefusals, JsonBodyRefusals, RowNotFound,
    )
)]
pub async fn deactivate_row(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((domain, id)): ApiPath<(String, i64)>,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<Deactivate>,
) -> Result<Response, Problem> {
    let viewer = caller.writer()?;
    let expected = if_match(&headers)?;
    let row = row_of_domain(&state, &caller, &domain, id).await?;
    let version = expected.check(row.version)?.unwrap_or(row.version);
    let reason = body.revoke.then(|| {
        body.reason
            .map_or(RevocationReason::AffiliationChanged, Into::into)
    });
    let done =
        backend::handover::deactivate_rows(&state.portal, viewer, &[(id, version)], reason).await?;
    let view = done
        .rows
        .into_iter()
        .next()
        .ok_or_else(|| Problem::not_found("row"))?;
    let tag = etag(view.version);
    let mut resp = Json(Deactivated {
        row: view.into(),
        revoked: done.revoked,
    })
    .into_response();
    resp.headers_mut().insert(ETAG, tag);
    Ok(resp)
}
