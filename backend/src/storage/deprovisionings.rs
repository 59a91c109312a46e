//! IdM deprovisioning (R22): the deprovisionings the IdM caused, what each did, proposes or holds
//! per row, and the domains' setting.

use sqlx::FromRow;

use super::Conn;

/// A row the leaver is linked to or holds a valid certificate for, with what deciding its kind
/// needs.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct LeaverRowRecord {
    /// The row.
    pub id: i64,
    /// Its domain.
    pub domain_id: i64,
    /// Its primary address.
    pub primary_address: String,
    /// `personal` or `functional`.
    pub mailbox_type: String,
    /// R7.
    pub active: bool,
    /// For the deactivation's optimistic concurrency.
    pub version: i64,
    /// The leaver's links of the row's addresses.
    pub leaver_links: i64,
    /// Other users' links of the row's addresses.
    pub other_links: i64,
    /// The leaver's valid certificates for the row.
    pub valid_certificates: i64,
    /// The domain's setting, `revoke` or `propose`.
    pub deprovision_mode: String,
}

/// The rows the leaver is linked to or holds a certificate for that is valid at `now`, leaving
/// out those an earlier deprovisioning of theirs proposed, holds, or whose proposal or hold was
/// dismissed or discarded (a repeated report changes nothing, R22).
pub async fn list_leaver_rows(
    conn: &mut Conn,
    user_id: &str,
    now: i64,
) -> sqlx::Result<Vec<LeaverRowRecord>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT r.id, r.domain_id, r.primary_address, r.mailbox_type, r.active, r.version,
                (SELECT COUNT(*) FROM links l WHERE l.row_id = r.id AND l.user_id = $1)
                    AS leaver_links,
                (SELECT COUNT(*) FROM links l WHERE l.row_id = r.id AND l.user_id <> $1)
                    AS other_links,
                (SELECT COUNT(*) FROM certificates c
                 LEFT JOIN revocations v ON v.certificate_id = c.id
                 WHERE c.row_id = r.id AND c.user_id = $1 AND v.certificate_id IS NULL
                   AND c.not_after > $2) AS valid_certificates,
                d.deprovision_mode
         FROM mailbox_rows r JOIN domains d ON d.id = r.domain_id
         WHERE r.id IN (SELECT l.row_id FROM links l WHERE l.user_id = $1
                        UNION
                        SELECT c.row_id FROM certificates c
                        LEFT JOIN revocations v ON v.certificate_id = c.id
                        WHERE c.user_id = $1 AND v.certificate_id IS NULL AND c.not_after > $2)
           AND NOT EXISTS (
               SELECT 1 FROM deprovision_items i
               JOIN deprovisionings p ON p.id = i.deprovisioning_id
               WHERE i.row_id = r.id AND p.user_id = $1
                 AND i.state IN ('proposed', 'held', 'dismissed', 'discarded'))
         ORDER BY r.id",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(ex)
    .await)
}

/// How many deprovisionings were recorded at `since` or later (the breaker's window).
pub async fn count_deprovisionings_since(conn: &mut Conn, since: i64) -> sqlx::Result<i64> {
    crate::run!(conn, ex => sqlx::query_scalar("SELECT COUNT(*) FROM deprovisionings WHERE at >= $1")
        .bind(since)
        .fetch_one(ex)
        .await)
}

/// How many distinct users are linked to any address.
pub async fn count_linked_users(conn: &mut Conn) -> sqlx::Result<i64> {
    crate::run!(conn, ex => sqlx::query_scalar("SELECT COUNT(DISTINCT user_id) FROM links")
        .fetch_one(ex)
        .await)
}

/// Whether a held deprovisioning waits for an operator: while one does, the breaker stays open.
pub async fn exists_undecided_hold(conn: &mut Conn) -> sqlx::Result<bool> {
    let found: Option<i64> = crate::run!(conn, ex => sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM deprovisionings WHERE held = TRUE AND decision IS NULL LIMIT 1",
    )
    .fetch_optional(ex)
    .await)?;
    Ok(found.is_some())
}

/// A deprovisioning to record.
#[derive(Debug, Clone, Copy)]
pub struct NewDeprovisioning<'a> {
    /// The leaver.
    pub user_id: &'a str,
    /// `scim:<token name>`.
    pub actor: &'a str,
    /// When.
    pub at: i64,
    /// Sessions ended.
    pub sessions_ended: u64,
    /// Whether the breaker held it.
    pub held: bool,
}

/// Records a deprovisioning; returns its id.
pub async fn insert_deprovisioning(
    conn: &mut Conn,
    d: &NewDeprovisioning<'_>,
) -> sqlx::Result<i64> {
    crate::run!(conn, ex => sqlx::query_scalar(
        "INSERT INTO deprovisionings (user_id, actor, at, sessions_ended, held)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(d.user_id)
    .bind(d.actor)
    .bind(d.at)
    .bind(i64::try_from(d.sessions_ended).unwrap_or(i64::MAX))
    .bind(d.held)
    .fetch_one(ex)
    .await)
}

/// What happened to one row, to record.
#[derive(Debug, Clone, Copy)]
pub struct NewItem<'a> {
    /// The deprovisioning it belongs to.
    pub deprovisioning_id: i64,
    /// The row's domain.
    pub domain_id: i64,
    /// The row.
    pub row_id: i64,
    /// Its primary address.
    pub primary_address: &'a str,
    /// `personal`, `functional` or `shared`.
    pub kind: &'a str,
    /// `applied`, `proposed` or `held`.
    pub state: &'a str,
    /// Whether the row was deactivated.
    pub deactivated: bool,
    /// Links dropped.
    pub links_dropped: i64,
    /// Certificates revoked.
    pub revoked: i64,
    /// When.
    pub now: i64,
}

/// Records what happened to one row.
pub async fn insert_item(conn: &mut Conn, item: &NewItem<'_>) -> sqlx::Result<i64> {
    crate::run!(conn, ex => sqlx::query_scalar(
        "INSERT INTO deprovision_items (deprovisioning_id, domain_id, row_id, primary_address,
             kind, state, deactivated, links_dropped, revoked, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(item.deprovisioning_id)
    .bind(item.domain_id)
    .bind(item.row_id)
    .bind(item.primary_address)
    .bind(item.kind)
    .bind(item.state)
    .bind(item.deactivated)
    .bind(item.links_dropped)
    .bind(item.revoked)
    .bind(item.now)
    .fetch_one(ex)
    .await)
}

/// A recorded row of a deprovisioning, with the leaver.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ItemRecord {
    /// Its id.
    pub id: i64,
    /// The deprovisioning.
    pub deprovisioning_id: i64,
    /// The leaver.
    pub user_id: String,
    /// Their given name, if the portal ever saw them.
    pub given_name: Option<String>,
    /// Their family name.
    pub family_name: Option<String>,
    /// Who reported it.
    pub actor: String,
    /// When it was reported.
    pub reported_by_idm_at: i64,
    /// The row's domain.
    pub domain_id: i64,
    /// The domain's name.
    pub domain: String,
    /// The row.
    pub row_id: i64,
    /// Its primary address as it was.
    pub primary_address: String,
    /// `personal`, `functional` or `shared`.
    pub kind: String,
    /// Its state.
    pub state: String,
    /// Whether the row was deactivated.
    pub deactivated: bool,
    /// Links dropped.
    pub links_dropped: i64,
    /// Certificates revoked.
    pub revoked: i64,
    /// When it was recorded.
    pub created_at: i64,
}

const ITEM_COLUMNS: &str = "i.id, i.deprovisioning_id, p.user_id, u.given_name, u.family_name, \
     p.actor, p.at AS reported_by_idm_at, i.domain_id, d.name AS domain, i.row_id, \
     i.primary_address, i.kind, i.state, i.deactivated, i.links_dropped, i.revoked, \
     i.created_at \
     FROM deprovision_items i \
     JOIN deprovisionings p ON p.id = i.deprovisioning_id \
     JOIN domains d ON d.id = i.domain_id \
     LEFT JOIN users u ON u.id = p.user_id";

/// One item by id.
pub async fn find_item(conn: &mut Conn, id: i64) -> sqlx::Result<Option<ItemRecord>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ITEM_COLUMNS} WHERE i.id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await)
}

/// A domain's items in `state`, oldest first.
pub async fn list_items_of_domain(
    conn: &mut Conn,
    domain_id: i64,
    state: &str,
) -> sqlx::Result<Vec<ItemRecord>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ITEM_COLUMNS} WHERE i.domain_id = $1 AND i.state = $2 ORDER BY i.id"
    )))
    .bind(domain_id)
    .bind(state)
    .fetch_all(ex)
    .await)
}

/// The items of some deprovisionings, by deprovisioning and id.
pub async fn list_items_of_deprovisionings(
    conn: &mut Conn,
    ids: &[i64],
) -> sqlx::Result<Vec<ItemRecord>> {
    let ids = serde_json::to_string(ids).expect("numbers serialise");
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, &format!(
        "SELECT {ITEM_COLUMNS} WHERE i.deprovisioning_id IN (SELECT CAST(value AS BIGINT) FROM json_each($1))
         ORDER BY i.deprovisioning_id, i.id"
    ))))
    .bind(ids)
    .fetch_all(ex)
    .await)
}

/// Items no NAPs' mail has listed yet, by domain and id.
pub async fn list_unreported_items(conn: &mut Conn) -> sqlx::Result<Vec<ItemRecord>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ITEM_COLUMNS} WHERE i.reported_at IS NULL ORDER BY i.domain_id, i.id"
    )))
    .fetch_all(ex)
    .await)
}

/// Marks items as listed in a NAPs' mail; returns how many were not yet (the claim).
pub async fn mark_items_reported(conn: &mut Conn, ids: &[i64], now: i64) -> sqlx::Result<u64> {
    let ids = serde_json::to_string(ids).expect("numbers serialise");
    let done = crate::run!(conn, ex => sqlx::query(
        sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, "UPDATE deprovision_items SET reported_at = $1
         WHERE reported_at IS NULL AND id IN (SELECT CAST(value AS BIGINT) FROM json_each($2))")),
    )
    .bind(now)
    .bind(ids)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected())
}

/// Moves an item from state `from` to `to`, recording who decided; false when it was not in
/// `from` (any more).
pub async fn decide_item(
    conn: &mut Conn,
    id: i64,
    from: &str,
    to: &str,
    by: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let done = crate::run!(conn, ex => sqlx::query(
        "UPDATE deprovision_items SET state = $1, decided_by = $2, decided_at = $3
         WHERE id = $4 AND state = $5",
    )
    .bind(to)
    .bind(by)
    .bind(now)
    .bind(id)
    .bind(from)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected() == 1)
}

/// When the latest deprovisioning, or the latest item an operator's confirmation made, happened:
/// the sync run is over once this is long enough ago.
pub async fn latest_activity(conn: &mut Conn) -> sqlx::Result<Option<i64>> {
    crate::run!(conn, ex => sqlx::query_scalar(
        "SELECT MAX(t) FROM (SELECT MAX(at) AS t FROM deprovisionings
                             UNION ALL SELECT MAX(created_at) FROM deprovision_items) AS a",
    )
    .fetch_one(ex)
    .await)
}

/// A deprovisioning as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DeprovisioningRecord {
    /// Its id.
    pub id: i64,
    /// The leaver.
    pub user_id: String,
    /// Their given name, if the portal ever saw them.
    pub given_name: Option<String>,
    /// Their family name.
    pub family_name: Option<String>,
    /// Who reported it.
    pub actor: String,
    /// When.
    pub at: i64,
    /// Whether the breaker held it.
    pub held: bool,
    /// `confirmed` or `discarded`, once an operator decided.
    pub decision: Option<String>,
}

const DEPROVISIONING_COLUMNS: &str = "p.id, p.user_id, u.given_name, u.family_name, p.actor, \
     p.at, p.held, p.decision FROM deprovisionings p LEFT JOIN users u ON u.id = p.user_id";

/// One deprovisioning by id.
pub async fn find_deprovisioning(
    conn: &mut Conn,
    id: i64,
) -> sqlx::Result<Option<DeprovisioningRecord>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DEPROVISIONING_COLUMNS} WHERE p.id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await)
}

/// The held deprovisionings no operator has decided yet, oldest first.
pub async fn list_undecided_holds(conn: &mut Conn) -> sqlx::Result<Vec<DeprovisioningRecord>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DEPROVISIONING_COLUMNS} WHERE p.held = TRUE AND p.decision IS NULL ORDER BY p.id"
    )))
    .fetch_all(ex)
    .await)
}

/// Records an operator's decision on a held deprovisioning; false when it was decided already.
pub async fn decide_hold(
    conn: &mut Conn,
    id: i64,
    decision: &str,
    by: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let done = crate::run!(conn, ex => sqlx::query(
        "UPDATE deprovisionings SET decision = $1, decided_by = $2, decided_at = $3
         WHERE id = $4 AND held = TRUE AND decision IS NULL",
    )
    .bind(decision)
    .bind(by)
    .bind(now)
    .bind(id)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected() == 1)
}

/// A domain's setting, `revoke` or `propose`.
pub async fn find_deprovision_mode(conn: &mut Conn, domain_id: i64) -> sqlx::Result<String> {
    crate::run!(conn, ex => sqlx::query_scalar("SELECT deprovision_mode FROM domains WHERE id = $1")
        .bind(domain_id)
        .fetch_one(ex)
        .await)
}

/// Sets a domain's setting.
pub async fn update_deprovision_mode(
    conn: &mut Conn,
    domain_id: i64,
    mode: &str,
) -> sqlx::Result<()> {
    crate::run!(conn, ex => sqlx::query("UPDATE domains SET deprovision_mode = $1 WHERE id = $2")
        .bind(mode)
        .bind(domain_id)
        .execute(ex)
        .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}
