//! Certificates, revocations and the CRL (R12–R15): what was issued to whom for which row, which
//! of them are revoked, and the CRL as last signed.
//!
//! Only certificates are stored, never a private key (R14): a server-made key leaves the portal
//! inside the PKCS#12 file and nowhere else.

use sqlx::FromRow;

use super::Conn;

/// The columns of [`CertificateRecord`]: the certificate with its row, domain, requester and
/// revocation. Every certificate has a row (a row with a challenge cannot be deleted, R3, and
/// a certificate needs a confirmed challenge) and a user, so inner joins lose nothing.
const CERTIFICATE_COLUMNS: &str = "
    c.id, c.serial, c.row_id, r.domain_id, d.name AS domain, r.primary_address AS row_primary,
    r.active AS row_active, c.user_id, u.given_name, u.family_name, u.email AS user_email,
    c.subject, c.addresses, c.key_source, c.not_before, c.not_after, c.issued_at,
    v.revoked_at, v.reason, v.revoked_by
    FROM certificates c
    JOIN mailbox_rows r ON r.id = c.row_id
    JOIN domains d ON d.id = r.domain_id
    JOIN users u ON u.id = c.user_id
    LEFT JOIN revocations v ON v.certificate_id = c.id";

/// A certificate as stored, with what showing and revoking it needs (not its DER).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct CertificateRecord {
    /// Database id.
    pub id: i64,
    /// Serial number, lower-case hex.
    pub serial: String,
    /// The row it was issued for.
    pub row_id: i64,
    /// The row's domain.
    pub domain_id: i64,
    /// The domain's name.
    pub domain: String,
    /// The row's primary address.
    pub row_primary: String,
    /// Whether the row is active now (R15: NAPs revoke only on inactive rows).
    pub row_active: bool,
    /// Who requested it (R12).
    pub user_id: String,
    /// The requester's given name (IdM, last login).
    pub given_name: String,
    /// The requester's family name.
    pub family_name: String,
    /// The requester's email claim from the IdM, if any.
    pub user_email: Option<String>,
    /// Subject DN as text.
    pub subject: String,
    /// JSON array of the subjectAltName addresses.
    pub addresses: String,
    /// `csr` or `server` (R14).
    pub key_source: String,
    /// `notBefore`.
    pub not_before: i64,
    /// `notAfter`.
    pub not_after: i64,
    /// When it was issued.
    pub issued_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// The RFC 5280 reason name; `None` for unspecified (or not revoked).
    pub reason: Option<String>,
    /// User ID of who revoked it.
    pub revoked_by: Option<String>,
}

/// A certificate to store.
#[derive(Debug, Clone)]
pub struct NewCertificate<'a> {
    /// Serial number, lower-case hex.
    pub serial: &'a str,
    /// The row.
    pub row_id: i64,
    /// The requester.
    pub user_id: &'a str,
    /// Subject DN as text.
    pub subject: &'a str,
    /// JSON array of the subjectAltName addresses.
    pub addresses: &'a str,
    /// `csr` or `server`.
    pub key_source: &'a str,
    /// `notBefore`.
    pub not_before: i64,
    /// `notAfter`.
    pub not_after: i64,
    /// The certificate, DER.
    pub der: &'a [u8],
}

/// Stores an issued certificate; returns its id.
pub async fn insert_certificate(
    conn: &mut Conn,
    cert: &NewCertificate<'_>,
    now: i64,
) -> sqlx::Result<i64> {
    crate::run!(conn, ex => sqlx::query_scalar(
        "INSERT INTO certificates (serial, row_id, user_id, subject, addresses, key_source,
             not_before, not_after, der, issued_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(cert.serial)
    .bind(cert.row_id)
    .bind(cert.user_id)
    .bind(cert.subject)
    .bind(cert.addresses)
    .bind(cert.key_source)
    .bind(cert.not_before)
    .bind(cert.not_after)
    .bind(cert.der)
    .bind(now)
    .fetch_one(ex)
    .await)
}

/// One certificate by id.
pub async fn find_certificate(conn: &mut Conn, id: i64) -> sqlx::Result<Option<CertificateRecord>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CERTIFICATE_COLUMNS} WHERE c.id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await)
}

/// The DER of one certificate.
pub async fn find_certificate_der(conn: &mut Conn, id: i64) -> sqlx::Result<Option<Vec<u8>>> {
    crate::run!(conn, ex => sqlx::query_scalar("SELECT der FROM certificates WHERE id = $1")
        .bind(id)
        .fetch_optional(ex)
        .await)
}

/// Every certificate a user requested, newest first (R12).
pub async fn list_certificates_of_user(
    conn: &mut Conn,
    user_id: &str,
) -> sqlx::Result<Vec<CertificateRecord>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CERTIFICATE_COLUMNS} WHERE c.user_id = $1 ORDER BY c.issued_at DESC, c.id DESC"
    )))
    .bind(user_id)
    .fetch_all(ex)
    .await)
}

/// Which certificates of a domain [`list_certificates_of_domain`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainCertificates {
    /// Every certificate ever issued for a row of the domain.
    All,
    /// Neither revoked nor expired.
    Valid,
    /// Valid, and ending at or before this time (Unix seconds).
    ValidUntil(i64),
    /// Valid, of a deactivated row (R19: what the leaver worklist shows).
    ValidOfInactiveRows,
}

/// A domain's certificates, newest (highest id) first, from below `before_id` when given (the
/// REST API's cursor), at most `limit`.
pub async fn list_certificates_of_domain(
    conn: &mut Conn,
    domain_id: i64,
    which: DomainCertificates,
    now: i64,
    before_id: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<CertificateRecord>> {
    let (valid, until, inactive) = match which {
        DomainCertificates::All => (false, None, false),
        DomainCertificates::Valid => (true, None, false),
        DomainCertificates::ValidUntil(t) => (true, Some(t), false),
        DomainCertificates::ValidOfInactiveRows => (true, None, true),
    };
    // One statement for every filter: the flags switch its conditions on, so it is prepared once.
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CERTIFICATE_COLUMNS}
         WHERE r.domain_id = $1 AND ($2 IS NULL OR c.id < $2)
             AND (NOT $3 OR (v.certificate_id IS NULL AND c.not_after > $4))
             AND ($5 IS NULL OR c.not_after <= $5)
             AND (NOT $6 OR r.active = FALSE)
         ORDER BY c.id DESC LIMIT $7"
    )))
    .bind(domain_id)
    .bind(before_id)
    .bind(valid)
    .bind(now)
    .bind(until)
    .bind(inactive)
    .bind(limit)
    .fetch_all(ex)
    .await)
}

/// Every certificate issued for a row, newest first (R12, the NAP's view).
pub async fn list_certificates_of_row(
    conn: &mut Conn,
    row_id: i64,
) -> sqlx::Result<Vec<CertificateRecord>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CERTIFICATE_COLUMNS} WHERE c.row_id = $1 ORDER BY c.issued_at DESC, c.id DESC"
    )))
    .bind(row_id)
    .fetch_all(ex)
    .await)
}

/// The certificates of the given rows that are neither revoked nor expired at `now`, oldest
/// first (R15: what "revoke the row's certificates" revokes).
pub async fn list_valid_certificates_of_rows(
    conn: &mut Conn,
    row_ids: &[i64],
    now: i64,
) -> sqlx::Result<Vec<CertificateRecord>> {
    // A JSON array parameter keeps this one prepared statement whatever the number of rows.
    let ids = serde_json::to_string(row_ids).expect("numbers serialise");
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, &format!(
        "SELECT {CERTIFICATE_COLUMNS}
         WHERE c.row_id IN (SELECT CAST(value AS BIGINT) FROM json_each($1)) AND v.certificate_id IS NULL
             AND c.not_after > $2
         ORDER BY c.id"
    ))))
    .bind(ids)
    .bind(now)
    .fetch_all(ex)
    .await)
}

/// A user's certificates for the given rows that are neither revoked nor expired at `now`,
/// oldest first (R22: what a leaver's deprovisioning revokes).
pub async fn list_valid_certificates_of_user(
    conn: &mut Conn,
    user_id: &str,
    row_ids: &[i64],
    now: i64,
) -> sqlx::Result<Vec<CertificateRecord>> {
    let ids = serde_json::to_string(row_ids).expect("numbers serialise");
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, &format!(
        "SELECT {CERTIFICATE_COLUMNS}
         WHERE c.user_id = $1 AND c.row_id IN (SELECT CAST(value AS BIGINT) FROM json_each($2))
             AND v.certificate_id IS NULL AND c.not_after > $3
         ORDER BY c.id"
    ))))
    .bind(user_id)
    .bind(ids)
    .bind(now)
    .fetch_all(ex)
    .await)
}

/// What R13's one-valid-certificate rule needs of a user's certificates for a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromRow)]
pub struct HeldCertificate {
    /// `notAfter`.
    pub not_after: i64,
    /// Whether it is revoked.
    pub revoked: bool,
}

/// The certificates a user holds for a row, revoked and expired ones included.
pub async fn list_held_certificates(
    conn: &mut Conn,
    user_id: &str,
    row_id: i64,
) -> sqlx::Result<Vec<HeldCertificate>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT c.not_after, v.certificate_id IS NOT NULL AS revoked
         FROM certificates c LEFT JOIN revocations v ON v.certificate_id = c.id
         WHERE c.user_id = $1 AND c.row_id = $2",
    )
    .bind(user_id)
    .bind(row_id)
    .fetch_all(ex)
    .await)
}

/// Records a revocation, unless the certificate is revoked already; returns whether it was
/// recorded. `reason` is `None` for unspecified, which the CRL leaves out (R15).
pub async fn insert_revocation(
    conn: &mut Conn,
    certificate_id: i64,
    reason: Option<&str>,
    revoked_by: &str,
    now: i64,
) -> sqlx::Result<bool> {
    // ON CONFLICT … DO NOTHING is spelled the same in PostgreSQL.
    let done = crate::run!(conn, ex => sqlx::query(
        "INSERT INTO revocations (certificate_id, revoked_at, reason, revoked_by)
         VALUES ($1, $2, $3, $4) ON CONFLICT (certificate_id) DO NOTHING",
    )
    .bind(certificate_id)
    .bind(now)
    .bind(reason)
    .bind(revoked_by)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected() == 1)
}

/// A revoked certificate as a CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RevokedRecord {
    /// Serial number, lower-case hex.
    pub serial: String,
    /// When it was revoked.
    pub revoked_at: i64,
    /// The RFC 5280 reason name; `None` for unspecified.
    pub reason: Option<String>,
}

/// Every revoked certificate not yet expired at `now`, in order of revocation: what the CRL
/// signed at `now` lists (R15; an expired certificate is invalid anyway, RFC 5280 §3.3).
pub async fn list_revoked_unexpired(conn: &mut Conn, now: i64) -> sqlx::Result<Vec<RevokedRecord>> {
    crate::run!(conn, ex => sqlx::query_as(
        "SELECT c.serial, v.revoked_at, v.reason
         FROM revocations v JOIN certificates c ON c.id = v.certificate_id
         WHERE c.not_after > $1
         ORDER BY v.revoked_at, c.id",
    )
    .bind(now)
    .fetch_all(ex)
    .await)
}

/// The CRL as last signed.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct CrlRecord {
    /// The CRL number.
    pub crl_number: i64,
    /// `thisUpdate`.
    pub this_update: i64,
    /// `nextUpdate`.
    pub next_update: i64,
    /// The signed CRL, DER.
    pub der: Vec<u8>,
}

/// The CRL as last signed, if one was.
pub async fn find_crl(conn: &mut Conn) -> sqlx::Result<Option<CrlRecord>> {
    crate::run!(conn, ex => sqlx::query_as("SELECT crl_number, this_update, next_update, der FROM crl WHERE id = 1")
        .fetch_optional(ex)
        .await)
}

/// Replaces the stored CRL by a newly signed one.
pub async fn put_crl(conn: &mut Conn, crl: &CrlRecord) -> sqlx::Result<()> {
    // INSERT … ON CONFLICT … DO UPDATE is spelled the same in PostgreSQL.
    crate::run!(conn, ex => sqlx::query(
        "INSERT INTO crl (id, crl_number, this_update, next_update, der) VALUES (1, $1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET
             crl_number = excluded.crl_number,
             this_update = excluded.this_update,
             next_update = excluded.next_update,
             der = excluded.der",
    )
    .bind(crl.crl_number)
    .bind(crl.this_update)
    .bind(crl.next_update)
    .bind(&crl.der)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}

/// A row as requesting a certificate for it needs it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct CertificateRowRecord {
    /// Database id.
    pub id: i64,
    /// The row's domain.
    pub domain_id: i64,
    /// The domain's name.
    pub domain: String,
    /// The primary address.
    pub primary_address: String,
    /// First name (empty on functional rows).
    pub first_name: String,
    /// Last name (a functional mailbox's name).
    pub last_name: String,
    /// `personal` or `functional`.
    pub mailbox_type: String,
    /// R7.
    pub active: bool,
}

const CERTIFICATE_ROW_COLUMNS: &str = "r.id, r.domain_id, d.name AS domain, r.primary_address,
    r.first_name, r.last_name, r.mailbox_type, r.active";

/// One row with its domain's name.
pub async fn find_certificate_row(
    conn: &mut Conn,
    row_id: i64,
) -> sqlx::Result<Option<CertificateRowRecord>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CERTIFICATE_ROW_COLUMNS}
         FROM mailbox_rows r JOIN domains d ON d.id = r.domain_id WHERE r.id = $1"
    )))
    .bind(row_id)
    .fetch_optional(ex)
    .await)
}

/// The rows of the given ids that exist, with their domain's name.
pub async fn list_certificate_rows(
    conn: &mut Conn,
    row_ids: &[i64],
) -> sqlx::Result<Vec<CertificateRowRecord>> {
    let ids = serde_json::to_string(row_ids).expect("numbers serialise");
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, &format!(
        "SELECT {CERTIFICATE_ROW_COLUMNS}
         FROM mailbox_rows r JOIN domains d ON d.id = r.domain_id
         WHERE r.id IN (SELECT CAST(value AS BIGINT) FROM json_each($1)) ORDER BY r.id"
    ))))
    .bind(ids)
    .fetch_all(ex)
    .await)
}

/// An address of a row linked to a user, with the row.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct LinkedAddressRecord {
    /// The row.
    #[sqlx(flatten)]
    pub row: CertificateRowRecord,
    /// The linked address.
    pub address: String,
    /// R18: a newer challenge round was sent for the address since the link was made.
    pub suspended: bool,
}

/// R18 in SQL: the link `l` is suspended while a challenge newer than the one that made it exists
/// for its address (challenge ids only grow; `domain::handover::link_suspended`).
const LINK_SUSPENDED: &str =
    "EXISTS (SELECT 1 FROM challenges c WHERE c.address = l.address AND c.id > l.challenge_id)";

/// Every address linked to a user, with its row: rows in order of domain and primary address,
/// each row's addresses primary first, then the aliases in the NAP's order (R13: what "My client
/// certificates" offers).
pub async fn list_linked_addresses_of_user(
    conn: &mut Conn,
    user_id: &str,
) -> sqlx::Result<Vec<LinkedAddressRecord>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CERTIFICATE_ROW_COLUMNS}, l.address, {LINK_SUSPENDED} AS suspended
         FROM links l
         JOIN addresses a ON a.address = l.address AND a.row_id = l.row_id
         JOIN mailbox_rows r ON r.id = l.row_id
         JOIN domains d ON d.id = r.domain_id
         WHERE l.user_id = $1
         ORDER BY d.name, r.primary_address, r.id, a.position"
    )))
    .bind(user_id)
    .fetch_all(ex)
    .await)
}

/// The addresses of a row linked to a user, primary first, then the aliases in order, each with
/// whether its link is suspended by a newer round (R18).
pub async fn list_linked_addresses_of_row(
    conn: &mut Conn,
    user_id: &str,
    row_id: i64,
) -> sqlx::Result<Vec<(String, bool)>> {
    crate::run!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT l.address, {LINK_SUSPENDED}
         FROM links l JOIN addresses a ON a.address = l.address AND a.row_id = l.row_id
         WHERE l.user_id = $1 AND l.row_id = $2
         ORDER BY a.position"
    )))
    .bind(user_id)
    .bind(row_id)
    .fetch_all(ex)
    .await)
}

/// A valid certificate of a row, as the table shows it beside the row (R17): no DER, no subject.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct HeldCertificateRecord {
    /// The row.
    pub row_id: i64,
    /// Database id.
    pub id: i64,
    /// Serial (hex).
    pub serial: String,
    /// Who requested it.
    pub user_id: String,
    /// Their given name (IdM, last login).
    pub given_name: String,
    /// Their family name.
    pub family_name: String,
    /// End of validity.
    pub not_after: i64,
}

/// The certificates of some rows that are valid at `now` (neither revoked nor expired), by row
/// and expiry.
pub async fn list_held_certificates_of_rows(
    conn: &mut Conn,
    row_ids: &[i64],
    now: i64,
) -> sqlx::Result<Vec<HeldCertificateRecord>> {
    if row_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(row_ids).expect("numbers serialise");
    crate::run!(conn, ex => sqlx::query_as(
        sqlx::AssertSqlSafe(crate::storage::engine::dialect(PG, "SELECT c.row_id, c.id, c.serial, c.user_id, u.given_name, u.family_name, c.not_after
         FROM certificates c
         JOIN users u ON u.id = c.user_id
         LEFT JOIN revocations r ON r.certificate_id = c.id
         WHERE c.row_id IN (SELECT CAST(value AS BIGINT) FROM json_each($1))
           AND r.certificate_id IS NULL AND c.not_after > $2
         ORDER BY c.row_id, c.not_after")),
    )
    .bind(ids)
    .bind(now)
    .fetch_all(ex)
    .await)
}
