//! A search's matching rows, kept while the NAP pages through them (SPEC P2).
//!
//! Each page of a search found its matching rows anew: the trigram index, then every matching row
//! read and sorted, to show 50 of them; under load a search's page cost about eight times the CPU
//! of a page without one (figures in bench/results.md, "Figures behind the code"). So the ids of the matching rows, in sort order, are kept per domain, filter and sort column, in
//! the portal's [`SearchMatches`] (one per database pool, no global), and a page of the same search
//! is read by its ids.
//!
//! They are used only while they are right: every change of a domain's rows that can move a row
//! into, out of or within a search's matches raises the domain's change counter (migration 0006,
//! by trigger, so no writer can forget it), and a page read from kept ids reads the counter in the
//! same statement. If it is not what it was when the ids were found, the ids are found anew and
//! the page read again. Only filters without an address state are kept: whether a challenge is
//! pending depends on the time, not only on the table.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::storage::rows::{
    list_matching_row_ids, list_row_page, list_rows_by_ids, sort_values, Anchor, PageStart,
    RowFilter, RowPageRecords,
};
use crate::storage::Conn;
use domain::table::SortKey;

/// Ids kept in all, at most (8 bytes each): the oldest searches are forgotten first.
const MAX_KEPT_IDS: usize = 1_000_000;

/// Searches kept, at most.
const MAX_KEPT_SEARCHES: usize = 64;

/// Which matches: the domain, the filter and the sort column (both directions read the same ids).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SearchKey {
    domain_id: i64,
    active: Option<bool>,
    mailbox_type: Option<String>,
    search: String,
    order: SortKey,
}

impl SearchKey {
    /// The key of a filter's matches, if they are kept: a search without an address state.
    fn of(filter: &RowFilter<'_>, order: SortKey) -> Option<SearchKey> {
        (!filter.search.is_empty() && filter.state.is_none()).then(|| SearchKey {
            domain_id: filter.domain_id,
            active: filter.active,
            mailbox_type: filter.mailbox_type.map(str::to_owned),
            search: filter.search.to_owned(),
            order,
        })
    }
}

struct Kept {
    changes: i64,
    ids: Arc<[i64]>,
    used: Instant,
}

/// The matches of recent searches over one database, kept for their next pages. Part of the
/// portal's state ([`crate::portal::Portal::search_matches`]), made with its pool; cheap to clone
/// (clones share what is kept).
#[derive(Clone, Default)]
pub struct SearchMatches {
    kept: Arc<Mutex<HashMap<SearchKey, Kept>>>,
}

impl fmt::Debug for SearchMatches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let searches = self.lock().len();
        f.debug_struct("SearchMatches")
            .field("searches", &searches)
            .finish()
    }
}

impl SearchMatches {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SearchKey, Kept>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn kept(&self, key: &SearchKey) -> Option<(i64, Arc<[i64]>)> {
        self.lock().get_mut(key).map(|k| {
            k.used = Instant::now();
            (k.changes, k.ids.clone())
        })
    }

    fn keep(&self, key: &SearchKey, changes: i64, ids: Arc<[i64]>) {
        if ids.len() > MAX_KEPT_IDS {
            return;
        }
        let mut kept = self.lock();
        kept.remove(key);
        let mut total: usize = kept.values().map(|k| k.ids.len()).sum();
        while total + ids.len() > MAX_KEPT_IDS || kept.len() >= MAX_KEPT_SEARCHES {
            let Some(oldest) = kept
                .iter()
                .min_by_key(|(_, k)| k.used)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            total -= kept.remove(&oldest).map_or(0, |k| k.ids.len());
        }
        kept.insert(
            key.clone(),
            Kept {
                changes,
                ids,
                used: Instant::now(),
            },
        );
    }

    fn forget(&self, key: &SearchKey) {
        self.lock().remove(key);
    }
}

/// The ids of a page, in the order shown, from all matches in ascending sort order; as
/// [`list_row_page`] reads them (a missing anchor gives an empty page; before an anchor, the
/// rows right before it). After a row's values ([`Anchor::AfterValues`]), as after the row.
fn page_ids(ids: &[i64], descending: bool, limit: i64, start: PageStart) -> Vec<i64> {
    let limit = usize::try_from(limit).unwrap_or(0);
    let shown = |i: usize| {
        if descending {
            ids[ids.len() - 1 - i]
        } else {
            ids[i]
        }
    };
    let position = |anchor: i64| (0..ids.len()).find(|&i| shown(i) == anchor);
    let range = match start {
        PageStart::Offset(offset) => {
            let from = usize::try_from(offset).unwrap_or(0).min(ids.len());
            from..(from.saturating_add(limit)).min(ids.len())
        }
        PageStart::Anchor(Anchor::After(id) | Anchor::AfterValues { id, .. }) => {
            match position(id) {
                Some(at) => at + 1..(at + 1 + limit).min(ids.len()),
                None => 0..0,
            }
        }
        PageStart::Anchor(Anchor::Before(id)) => match position(id) {
            Some(at) => at.saturating_sub(limit)..at,
            None => 0..0,
        },
    };
    range.map(shown).collect()
}

/// How the pages of a domain's table are read, all but where a page starts: the same for a page
/// and for the page read again when its anchor turned out wrong.
pub struct TablePages<'a> {
    /// The kept matches of the database read.
    pub matches: &'a SearchMatches,
    /// Which rows.
    pub filter: &'a RowFilter<'a>,
    /// Sorted by.
    pub order: SortKey,
    /// Sorted downwards.
    pub descending: bool,
    /// Rows a page.
    pub limit: i64,
}

impl TablePages<'_> {
    /// A page, as [`list_row_page`] reads it; for a search without an address state on a
    /// database file, read by the kept ids of its matches while the domain's rows have not
    /// changed (see the module's text).
    pub async fn read(&self, conn: &mut Conn, start: PageStart) -> sqlx::Result<RowPageRecords> {
        let Some(key) = SearchKey::of(self.filter, self.order) else {
            return self.read_plainly(conn, start).await;
        };
        let mut found = self.matches.kept(&key);
        // Twice at most: kept ids found outdated are found anew once; when the table changes
        // again between those two reads, the page is read as if nothing were kept.
        for _ in 0..2 {
            let (changes, ids) = match found.take() {
                Some(k) => k,
                None => {
                    let (changes, ids) =
                        list_matching_row_ids(conn, self.filter, self.order).await?;
                    let ids: Arc<[i64]> = ids.into();
                    self.matches.keep(&key, changes, ids.clone());
                    (changes, ids)
                }
            };
            // After a row's values, the page is cut from the matches after that row only while
            // the row is among them and still has those values (it may have been deleted or
            // edited since the cursor was made): it is read along with the page to see.
            // Otherwise where the values lie among the matches is for the database to find.
            let values_of = match &start {
                PageStart::Anchor(Anchor::AfterValues { key, id }) if ids.contains(id) => {
                    Some((key, *id))
                }
                PageStart::Anchor(Anchor::AfterValues { .. }) => {
                    return self.read_plainly(conn, start).await;
                }
                _ => None,
            };
            let mut shown = page_ids(&ids, self.descending, self.limit, start.clone());
            shown.extend(values_of.map(|(_, id)| id));
            let (now, mut page) = list_rows_by_ids(conn, self.filter.domain_id, &shown).await?;
            if now == changes {
                if let Some((key, id)) = values_of {
                    let at = page.rows.iter().position(|r| r.id == id);
                    match at {
                        Some(at) if sort_values(self.order, &page.rows[at]) == *key => {
                            page.rows.remove(at);
                            page.addresses.retain(|a| a.row_id != id);
                        }
                        _ => return self.read_plainly(conn, start).await,
                    }
                }
                page.total = ids.len() as i64;
                return Ok(page);
            }
        }
        self.matches.forget(&key);
        self.read_plainly(conn, start).await
    }

    async fn read_plainly(
        &self,
        conn: &mut Conn,
        start: PageStart,
    ) -> sqlx::Result<RowPageRecords> {
        let (filter, order) = (self.filter, self.order);
        list_row_page(conn, filter, order, self.descending, self.limit, start).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p2_pages_are_cut_from_the_matches_as_the_page_query_reads_them() {
        let ids: Vec<i64> = (1..=7).collect();
        let after = |id| PageStart::Anchor(Anchor::After(id));
        let before = |id| PageStart::Anchor(Anchor::Before(id));
        assert_eq!(page_ids(&ids, false, 3, PageStart::Offset(0)), [1, 2, 3]);
        assert_eq!(page_ids(&ids, false, 3, PageStart::Offset(6)), [7]);
        assert_eq!(
            page_ids(&ids, false, 3, PageStart::Offset(9)),
            [] as [i64; 0]
        );
        assert_eq!(page_ids(&ids, true, 3, PageStart::Offset(0)), [7, 6, 5]);
        assert_eq!(page_ids(&ids, false, 3, after(3)), [4, 5, 6]);
        assert_eq!(page_ids(&ids, true, 3, after(3)), [2, 1]);
        assert_eq!(page_ids(&ids, false, 3, before(3)), [1, 2]);
        assert_eq!(page_ids(&ids, false, 3, before(7)), [4, 5, 6]);
        assert_eq!(page_ids(&ids, true, 3, before(1)), [4, 3, 2]);
        assert_eq!(page_ids(&ids, false, 3, after(99)), [] as [i64; 0]);
    }
}
