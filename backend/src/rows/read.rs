//! Reading rows: where each address stands, and a domain's table page by page.

use domain::message::Message;
use std::collections::HashMap;

use crate::storage::Db;
use domain::address::DomainName;
use domain::challenge::{Challenge, ChallengeLifetime, ChallengeState};
use domain::handover::{expiring_soon, link_suspended, AddressLink, HeldCertificate};
use domain::mailbox::MailboxType;

use super::{
    AddressState, AddressStatus, Anchor, ContextFor, MailDelivery, RowContext, RowPage, RowQuery,
    RowView, ServiceError, MAX_PAGE_SIZE,
};
use crate::clock;
use crate::identity::display_name;
use crate::roles::Viewer;
use crate::search_matches::{SearchMatches, TablePages};
use crate::storage::certificates::list_held_certificates_of_rows;
use crate::storage::rows::{self as store, AddressStateRecord, PageStart, RowFilter, RowRecord};
use crate::storage::Conn;

fn mail_delivery(record: &AddressStateRecord) -> Option<MailDelivery> {
    match record.mail_state.as_deref()? {
        "queued" => Some(MailDelivery::Queued {
            last_error: record.mail_error.clone(),
        }),
        "sent" => Some(MailDelivery::Sent),
        _ => Some(MailDelivery::Failed {
            reason: record.mail_error.clone().unwrap_or_default(),
        }),
    }
}

fn address_state(a: &AddressStateRecord, now: i64) -> AddressState {
    let latest = match (
        &a.challenge_state,
        a.challenge_created_at,
        a.challenge_expires_at,
    ) {
        (Some(state), Some(created_at), Some(expires_at)) => {
            let state = ChallengeState::parse(state).unwrap_or(ChallengeState::Expired);
            let effective = ChallengeLifetime::from_secs(expires_at - created_at).map_or(
                ChallengeState::Expired,
                |lifetime| {
                    Challenge {
                        state,
                        created_at,
                        lifetime,
                    }
                    .effective_state(now)
                },
            );
            Some((effective, created_at, expires_at))
        }
        _ => None,
    };
    let resolved = a.challenge_resolved_at;
    // R18: a link suspended by a newer round does not make the address read as confirmed; the
    // newer round's state does (the link itself is shown beside it, R17).
    let usable_link = a
        .link_user_id
        .as_ref()
        .filter(|_| !link_suspended(a.link_challenge_id.unwrap_or_default(), a.challenge_id));
    match (latest, usable_link) {
        (Some((ChallengeState::Pending, since, _)), _) => AddressState::Pending { since },
        (_, Some(user_id)) => {
            let name = format!(
                "{} {}",
                a.user_given_name.as_deref().unwrap_or(""),
                a.user_family_name.as_deref().unwrap_or("")
            );
            let name = name.trim();
            AddressState::Confirmed {
                user_id: user_id.clone(),
                user_name: if name.is_empty() {
                    user_id.clone()
                } else {
                    name.to_owned()
                },
                at: a.linked_at.unwrap_or_default(),
            }
        }
        (None, None) => AddressState::NeverSent,
        (Some((ChallengeState::Expired, _, expires_at)), None) => {
            AddressState::Expired { at: expires_at }
        }
        (Some((ChallengeState::Superseded | ChallengeState::Confirmed, created_at, _)), None) => {
            AddressState::Superseded {
                at: resolved.unwrap_or(created_at),
            }
        }
    }
}

/// The link of an address as the table shows it (R17), suspended by a newer round (R18).
fn link_of(a: &AddressStateRecord) -> Option<AddressLink> {
    let user_id = a.link_user_id.clone()?;
    Some(AddressLink {
        user_name: display_name(
            a.user_given_name.as_deref().unwrap_or(""),
            a.user_family_name.as_deref().unwrap_or(""),
            &user_id,
        ),
        user_id,
        since: a.linked_at.unwrap_or_default(),
        suspended: link_suspended(a.link_challenge_id.unwrap_or_default(), a.challenge_id),
    })
}

/// The valid certificates of rows (R17), by row.
pub(crate) async fn held_certificates(
    conn: &mut Conn,
    row_ids: &[i64],
    now: i64,
) -> Result<HashMap<i64, Vec<HeldCertificate>>, ServiceError> {
    let mut by_row: HashMap<i64, Vec<HeldCertificate>> = HashMap::new();
    for c in list_held_certificates_of_rows(conn, row_ids, now).await? {
        by_row.entry(c.row_id).or_default().push(HeldCertificate {
            id: c.id,
            serial: c.serial,
            user_name: display_name(&c.given_name, &c.family_name, &c.user_id),
            user_id: c.user_id,
            expiring_soon: expiring_soon(c.not_after, now),
            not_after: c.not_after,
        });
    }
    Ok(by_row)
}

fn view_of(
    domain: &DomainName,
    record: RowRecord,
    addresses: &[AddressStateRecord],
    certificates: Vec<HeldCertificate>,
    now: i64,
) -> Result<RowView, ServiceError> {
    let mailbox_type = MailboxType::parse(&record.mailbox_type)
        .map_err(|e| ServiceError::corrupt(format!("row {}: {e}", record.id)))?;
    Ok(RowView {
        id: record.id,
        domain: domain.to_string(),
        aliases: addresses
            .iter()
            .filter(|a| a.kind == "alias")
            .map(|a| a.address.clone())
            .collect(),
        addresses: addresses
            .iter()
            .map(|a| AddressStatus {
                address: a.address.clone(),
                is_primary: a.kind == "primary",
                state: address_state(a, now),
                delivery: mail_delivery(a),
                link: link_of(a),
            })
            .collect(),
        certificates,
        primary: record.primary_address,
        first_name: record.first_name,
        last_name: record.last_name,
        mailbox_type,
        applicant: record.applicant_address,
        comment: record.comment,
        active: record.active,
        version: record.version,
        challenged: record.challenged,
        updated_at: record.updated_at,
    })
}

/// Builds the views of rows with one query for all their addresses.
async fn views_of(
    conn: &mut Conn,
    domain_of: impl Fn(i64) -> Result<DomainName, ServiceError>,
    records: Vec<RowRecord>,
    now: i64,
) -> Result<Vec<RowView>, ServiceError> {
    let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    let mut by_row: HashMap<i64, Vec<AddressStateRecord>> = HashMap::new();
    for a in store::list_address_states(conn, &ids).await? {
        by_row.entry(a.row_id).or_default().push(a);
    }
    let mut held = held_certificates(conn, &ids, now).await?;
    records
        .into_iter()
        .map(|r| {
            let addresses = by_row.remove(&r.id).unwrap_or_default();
            let certificates = held.remove(&r.id).unwrap_or_default();
            view_of(&domain_of(r.domain_id)?, r, &addresses, certificates, now)
        })
        .collect()
}

/// A row as the table shows it; the reader must be allowed to read its domain.
pub(crate) async fn load_view(
    conn: &mut Conn,
    ctx: &RowContext,
    row_id: i64,
    now: i64,
) -> Result<RowView, ServiceError> {
    let record = store::find_row(conn, row_id).await?;
    let domain = ctx
        .row_domain(record.as_ref().map(|r| r.domain_id), false)?
        .clone();
    let record = record.ok_or(ServiceError::NotFound(Message::NoSuchRow))?;
    let mut views = views_of(conn, |_| Ok(domain.clone()), vec![record], now).await?;
    views
        .pop()
        .ok_or(ServiceError::NotFound(Message::NoSuchRow))
}

/// One page of a domain's table: filtered, sorted, with every address's state. One query whatever
/// the page size: the page, its total count and the addresses of the page's rows. A search's
/// matches are kept in `search_matches` (the portal's, made with `pool`) for its next pages.
pub async fn list_rows(
    pool: &Db,
    search_matches: &SearchMatches,
    viewer: &Viewer,
    domain: &str,
    query: &RowQuery,
) -> Result<RowPage, ServiceError> {
    let mut conn = pool.acquire().await?;
    let ctx = RowContext::load(&mut conn, viewer, ContextFor::Reading).await?;
    let (domain_id, domain_name) = ctx.readable_domain(domain)?;
    // Values a client sent back (a REST cursor) must have the sort's shape, else they would
    // compare as NULL and give a wrong page.
    if let Some(Anchor::AfterValues { key, .. }) = &query.anchor {
        if !query.sort.fits(key) {
            return Err(ServiceError::invalid(
                "the position to continue from does not fit the sort order",
            ));
        }
    }
    let now = clock::now();
    let page_size = query.page_size.clamp(1, MAX_PAGE_SIZE);
    let search = query.search.trim();
    let filter = RowFilter {
        domain_id,
        active: query.active,
        mailbox_type: query.mailbox_type.map(MailboxType::as_str),
        state: query.state,
        search,
        now,
    };
    let limit = i64::from(page_size);
    let by_number = PageStart::Offset(i64::from(query.page) * limit);
    let start = query
        .anchor
        .clone()
        .map_or_else(|| by_number.clone(), PageStart::Anchor);
    // A search's matches are kept for its next pages (`search_matches`).
    let pages = TablePages {
        matches: search_matches,
        filter: &filter,
        order: query.sort,
        descending: query.descending,
        limit,
    };
    let mut page = pages.read(&mut conn, start).await?;
    // From an anchor, the page can come out wrong when the table changed meanwhile: nothing after
    // a deleted anchor row (then the page is read by its number), or less than a page before the
    // anchor when rows before it went away (then it is the first page). After a row's values
    // nothing is wrong: an empty page is the end of the list.
    let mut page_number = query.page;
    let again = match &query.anchor {
        Some(Anchor::After(_) | Anchor::Before(_)) if page.rows.is_empty() => Some(by_number),
        Some(Anchor::Before(_)) if (page.rows.len() as i64) < limit => {
            page_number = 0;
            Some(PageStart::Offset(0))
        }
        _ => None,
    };
    if let Some(start) = again {
        page = pages.read(&mut conn, start).await?;
    }
    let mut by_row: HashMap<i64, Vec<AddressStateRecord>> = HashMap::new();
    for a in page.addresses {
        by_row.entry(a.row_id).or_default().push(a);
    }
    let ids: Vec<i64> = page.rows.iter().map(|r| r.id).collect();
    let mut held = held_certificates(&mut conn, &ids, now).await?;
    let rows = page
        .rows
        .into_iter()
        .map(|r| {
            let addresses = by_row.remove(&r.id).unwrap_or_default();
            let certificates = held.remove(&r.id).unwrap_or_default();
            view_of(domain_name, r, &addresses, certificates, now)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RowPage {
        rows,
        total: page.total.max(0) as u64,
        page: page_number,
        page_size,
    })
}

/// One row (its domain's NAPs and operators).
pub async fn get_row(pool: &Db, viewer: &Viewer, row_id: i64) -> Result<RowView, ServiceError> {
    let mut conn = pool.acquire().await?;
    let ctx = RowContext::load(&mut conn, viewer, ContextFor::Reading).await?;
    load_view(&mut conn, &ctx, row_id, clock::now()).await
}

/// The rows as the table shows them, in the order given.
pub(crate) async fn load_views(
    conn: &mut Conn,
    ctx: &RowContext,
    rows: &[(i64, i64)],
    now: i64,
) -> Result<Vec<RowView>, ServiceError> {
    let mut views = Vec::with_capacity(rows.len());
    for &(row_id, _) in rows {
        views.push(load_view(conn, ctx, row_id, now).await?);
    }
    Ok(views)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(state: Option<&str>, link: bool) -> AddressStateRecord {
        AddressStateRecord {
            row_id: 1,
            address: "anna@example.org".into(),
            kind: "primary".into(),
            position: 0,
            challenge_state: state.map(str::to_owned),
            challenge_created_at: state.map(|_| 1000),
            challenge_expires_at: state.map(|_| 2000),
            challenge_resolved_at: state.filter(|s| *s != "pending").map(|_| 1500),
            link_user_id: link.then(|| "sub-anna".into()),
            linked_at: link.then_some(1200),
            user_given_name: link.then(|| "Anna".into()),
            user_family_name: link.then(|| "Schmidt".into()),
            mail_state: state.map(|_| "sent".into()),
            mail_error: None,
            // The link comes from challenge 1; a latest challenge other than a confirmed one is a
            // newer round (2), which suspends the link (R18).
            link_challenge_id: link.then_some(1),
            challenge_id: state.map(|s| if s == "confirmed" { 1 } else { 2 }),
        }
    }

    #[test]
    fn address_state_follows_the_latest_challenge_and_the_link() {
        assert_eq!(
            address_state(&record(None, false), 0),
            AddressState::NeverSent
        );
        assert_eq!(
            address_state(&record(Some("pending"), false), 1999),
            AddressState::Pending { since: 1000 }
        );
        assert_eq!(
            address_state(&record(Some("pending"), false), 2000),
            AddressState::Expired { at: 2000 }
        );
        assert_eq!(
            address_state(&record(Some("pending"), true), 1999),
            AddressState::Pending { since: 1000 },
            "a new round under way shows as pending"
        );
        let confirmed = AddressState::Confirmed {
            user_id: "sub-anna".into(),
            user_name: "Anna Schmidt".into(),
            at: 1200,
        };
        assert_eq!(
            address_state(&record(Some("confirmed"), true), 0),
            confirmed
        );
        assert_eq!(
            address_state(&record(Some("superseded"), true), 0),
            AddressState::Superseded { at: 1500 },
            "r18: a link suspended by a newer round (here superseded by an alias edit) does not \
             read as confirmed until a newer challenge is confirmed"
        );
        assert_eq!(
            address_state(&record(Some("pending"), true), 2000),
            AddressState::Expired { at: 2000 },
            "r18: nor once that round has expired"
        );
        assert_eq!(
            address_state(&record(Some("confirmed"), false), 0),
            AddressState::Superseded { at: 1500 },
            "a confirmation whose link was dropped no longer counts"
        );
        assert_eq!(
            address_state(&record(Some("superseded"), false), 0),
            AddressState::Superseded { at: 1500 }
        );
    }
}
