//! Email domains and their contact groups.

use domain::address::DomainName;
use sqlx::FromRow;

use super::Conn;

/// A registered email domain as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, serde::Deserialize)]
pub struct DomainRecord {
    /// Database id.
    pub id: i64,
    /// ASCII (punycode) name.
    pub name: String,
    /// The IdM group whose members are this domain's NAPs.
    pub contact_group: String,
    /// When it was registered.
    pub created_at: i64,
    /// Last change of the contact group.
    pub updated_at: i64,
}

/// Registers a domain; fails with a unique violation if it exists already.
pub async fn insert_domain(
    conn: &mut Conn,
    name: &DomainName,
    contact_group: &str,
    now: i64,
) -> sqlx::Result<DomainRecord> {
    crate::run!(conn, ex => sqlx::query_as(
        "INSERT INTO domains (name, contact_group, created_at, updated_at) VALUES ($1, $2, $3, $4)
         RETURNING id, name, contact_group, created_at, updated_at",
    )
    .bind(name.as_str())
    .bind(contact_group)
    .bind(now)
    .bind(now)
    .fetch_one(ex)
    .await)
}

/// All domains, by name.
pub async fn list_domains(conn: &mut Conn) -> sqlx::Result<Vec<DomainRecord>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT id, name, contact_group, created_at, updated_at FROM domains ORDER BY name",
    )
    .fetch_all(ex)
    .await)
}

/// One domain by its name.
pub async fn find_domain_by_name(
    conn: &mut Conn,
    name: &DomainName,
) -> sqlx::Result<Option<DomainRecord>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT id, name, contact_group, created_at, updated_at FROM domains WHERE name = $1",
    )
    .bind(name.as_str())
    .fetch_optional(ex)
    .await)
}

/// The domains whose contact group is one of `groups`: the domains a NAP administers (R1).
pub async fn list_domains_of_groups(
    conn: &mut Conn,
    groups: &[String],
) -> sqlx::Result<Vec<DomainRecord>> {
    // A JSON array parameter keeps this one statement whatever the number of groups.
    let groups = serde_json::to_string(groups).expect("strings serialise");
    crate::run!(conn, ex => sqlx::query_as(
        sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, "SELECT id, name, contact_group, created_at, updated_at FROM domains
         WHERE contact_group IN (SELECT value FROM json_each($1)) ORDER BY name")),
    )
    .bind(groups)
    .fetch_all(ex)
    .await)
}

/// Changes a domain's contact group.
pub async fn update_domain_contact_group(
    conn: &mut Conn,
    id: i64,
    contact_group: &str,
    now: i64,
) -> sqlx::Result<()> {
    crate::run!(conn, ex => sqlx::query("UPDATE domains SET contact_group = $1, updated_at = $2 WHERE id = $3")
        .bind(contact_group)
        .bind(now)
        .bind(id)
        .execute(ex)
        .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}
