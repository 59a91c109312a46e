//! A row found by its primary address, as the REST API's `…/rows/by-address/{address}` and its
//! idempotent upsert need it (R21): the address is the key an IdM knows a mailbox by.

use crate::storage::Db;
use domain::address::EmailAddress;
use domain::row::{Field, FieldError};

use crate::error::ServiceError;
use crate::roles::Viewer;
use crate::rows::{get_row, RowView};
use crate::storage::rows::find_row_by_primary;

/// The row of `domain`'s table whose primary address is `primary` (as typed: normalised first),
/// for the domain's NAPs and operators. `Ok(None)` when there is none in that table — also when
/// the address is another table's, so the answer tells nothing about other domains (Q1).
pub async fn row_by_primary(
    pool: &Db,
    viewer: &Viewer,
    domain: &str,
    primary: &str,
) -> Result<Option<RowView>, ServiceError> {
    let address = EmailAddress::parse(primary)
        .map_err(|e| ServiceError::fields(vec![FieldError::new(Field::PrimaryAddress, e)]))?;
    let id = {
        let mut conn = pool.acquire().await?;
        match find_row_by_primary(&mut conn, address.as_str()).await? {
            Some(record) => record.id,
            None => return Ok(None),
        }
    };
    match get_row(pool, viewer, id).await {
        Ok(view) if view.domain.eq_ignore_ascii_case(domain) => Ok(Some(view)),
        Ok(_) | Err(ServiceError::NotFound(_)) | Err(ServiceError::Forbidden(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
