//! The domains a token reaches (R21): those it was made for that its creator still administers.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Caller;
use super::refusals::ReadRefusals;

/// A domain the token reaches.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Domain {
    /// The domain's name (ASCII; an IDN in its punycode form).
    pub name: String,
    /// The IdM group whose members are its contact persons (NAPs).
    pub contact_group: String,
}

/// The token's domains and what it may do.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DomainList {
    /// The domains, by name.
    pub domains: Vec<Domain>,
    /// Whether the token may change anything (`read_write`) or only read (`read`).
    pub scope: Scope,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Read only.
    Read,
    /// Read and change.
    ReadWrite,
}

/// List the domains this token reaches.
#[utoipa::path(
    get, path = "/domains", tag = "domains",
    responses(
        (status = 200, description = "The token's domains", body = DomainList),
        ReadRefusals,
    )
)]
pub async fn list_domains(caller: Caller) -> Json<DomainList> {
    let mut domains: Vec<Domain> = caller
        .0
        .domains
        .iter()
        .map(|d| Domain {
            name: d.name.clone(),
            contact_group: d.contact_group.clone(),
        })
        .collect();
    domains.sort_by(|a, b| a.name.cmp(&b.name));
    Json(DomainList {
        domains,
        scope: if caller.0.may_write() {
            Scope::ReadWrite
        } else {
            Scope::Read
        },
    })
}
