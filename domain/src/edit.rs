//! What saving an edited row does to its challenges and links (R4–R7).
//!
//! Both the edit form and the CSV upload (R8) compute the consequences here, show them to the
//! NAP (preview), and then apply exactly these consequences in the same transaction.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::address::EmailAddress;
use crate::row::{Field, RowFields};

/// The consequences of replacing `before` by `after` (see [`RowEdit::between`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditConsequences {
    /// Every pending challenge of the row becomes superseded (R4, R5).
    pub supersede_pending: bool,
    /// Which links of the row are dropped.
    pub dropped_links: LinkDrop,
    /// Aliases in `after` but not in `before`; they start unconfirmed (R4).
    pub added_aliases: Vec<EmailAddress>,
    /// Aliases in `before` but not in `after`.
    pub removed_aliases: Vec<EmailAddress>,
    /// The fields whose value changed, in table order; empty for "unchanged".
    pub changed_fields: Vec<Field>,
    /// Whether the row is deactivated or reactivated.
    pub activation: Option<Activation>,
}

/// Which links of a row an edit drops.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkDrop {
    /// No link is touched.
    None,
    /// The links of these addresses (removed aliases) are dropped; the rest stay (R4).
    Addresses(Vec<EmailAddress>),
    /// Every link of the row is dropped (R5): the previous applicant or owner can request no
    /// new certificate. Certificates already issued stay (R12).
    All,
}

/// A change of the row's `active` flag (R7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// Active → inactive.
    Deactivated,
    /// Inactive → active.
    Reactivated,
}

/// Computes what an edit of a row does. Never constructed; it names the operation.
///
/// The primary address is not part of an edit at all (R2, see [`RowFields`]).
pub enum RowEdit {}

impl RowEdit {
    /// The consequences of saving `after` over `before`:
    ///
    /// - R4: the alias **set** changed (order does not count) ⇒ all pending challenges are
    ///   superseded, links of removed aliases are dropped, links of kept addresses stay;
    /// - R5: applicant or mailbox type changed ⇒ all pending challenges are superseded and all
    ///   links of the row are dropped;
    /// - R6: first name, last name or comment changed ⇒ nothing else;
    /// - R7: activation toggled ⇒ no challenge or link is touched (an inactive row's challenges
    ///   simply cannot be confirmed, see [`crate::Challenge::confirm`]).
    pub fn between(before: &RowFields, after: &RowFields) -> EditConsequences {
        let before_aliases: BTreeSet<&EmailAddress> = before.aliases.iter().collect();
        let after_aliases: BTreeSet<&EmailAddress> = after.aliases.iter().collect();
        // Kept in the order the NAP entered them, each once.
        let added_aliases = unique_not_in(&after.aliases, &before_aliases);
        let removed_aliases = unique_not_in(&before.aliases, &after_aliases);
        let aliases_changed = before_aliases != after_aliases;
        let holder_changed =
            before.applicant != after.applicant || before.mailbox_type != after.mailbox_type;

        let changed_fields: Vec<Field> = [
            (Field::FirstName, before.first_name != after.first_name),
            (Field::LastName, before.last_name != after.last_name),
            (Field::Aliases, aliases_changed),
            (
                Field::MailboxType,
                before.mailbox_type != after.mailbox_type,
            ),
            (Field::Applicant, before.applicant != after.applicant),
            (Field::Comment, before.comment != after.comment),
            (Field::Active, before.active != after.active),
        ]
        .into_iter()
        .filter_map(|(field, changed)| changed.then_some(field))
        .collect();

        let dropped_links = if holder_changed {
            LinkDrop::All
        } else if !removed_aliases.is_empty() {
            LinkDrop::Addresses(removed_aliases.clone())
        } else {
            LinkDrop::None
        };
        let activation = match (before.active, after.active) {
            (true, false) => Some(Activation::Deactivated),
            (false, true) => Some(Activation::Reactivated),
            _ => None,
        };
        EditConsequences {
            supersede_pending: aliases_changed || holder_changed,
            dropped_links,
            added_aliases,
            removed_aliases,
            changed_fields,
            activation,
        }
    }
}

/// The items of `list` not in `other`, each once, in `list`'s order.
fn unique_not_in(list: &[EmailAddress], other: &BTreeSet<&EmailAddress>) -> Vec<EmailAddress> {
    let mut seen = BTreeSet::new();
    list.iter()
        .filter(|a| !other.contains(a) && seen.insert(*a))
        .cloned()
        .collect()
}

impl EditConsequences {
    /// Whether saving changes nothing (the CSV preview's "unchanged").
    pub fn is_unchanged(&self) -> bool {
        self.changed_fields.is_empty()
    }

    /// What saving will do beyond changing the fields, for the NAP to read before saving.
    ///
    /// How many pending challenges get superseded is known only to the caller (it is in the
    /// database); this says that it happens.
    pub fn describe(&self) -> Vec<Consequence> {
        let mut said = Vec::new();
        if self.supersede_pending {
            said.push(Consequence::InvalidatesPending);
        }
        match &self.dropped_links {
            LinkDrop::None => {}
            LinkDrop::Addresses(addresses) => said.extend(
                addresses
                    .iter()
                    .map(|a| Consequence::RemovesAlias { address: a.clone() }),
            ),
            LinkDrop::All => said.push(Consequence::DropsAllLinks),
        }
        said.extend(
            self.added_aliases
                .iter()
                .map(|a| Consequence::NewAlias { address: a.clone() }),
        );
        match self.activation {
            Some(Activation::Deactivated) => said.push(Consequence::Deactivates),
            Some(Activation::Reactivated) => said.push(Consequence::Reactivates),
            None => {}
        }
        said
    }
}

/// One thing saving an edit does beyond changing the fields (R4–R7), as data: the page words it
/// in the NAP's language; `Display` is the English sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Consequence {
    /// R4, R5: every pending challenge becomes superseded.
    #[error(
        "saving invalidates every pending challenge of this row; send challenges again afterwards"
    )]
    InvalidatesPending,
    /// R4: an alias goes, and its link with it.
    #[error("saving removes alias {address} and drops its link, if it has one")]
    RemovesAlias {
        /// The alias.
        address: EmailAddress,
    },
    /// R5: every link of the row goes.
    #[error("saving drops the links of all addresses of this row: whoever was linked can request no new certificate until they confirm a new challenge; certificates already issued stay valid")]
    DropsAllLinks,
    /// R4: a new alias starts unconfirmed.
    #[error("new alias {address} starts unconfirmed; it needs a confirmed challenge before it can go into a certificate")]
    NewAlias {
        /// The alias.
        address: EmailAddress,
    },
    /// R7.
    #[error("saving deactivates this row: no challenge can be sent or confirmed and no certificate requested until it is reactivated; links are kept")]
    Deactivates,
    /// R7.
    #[error("saving reactivates this row; its links are kept, so no new challenges are needed")]
    Reactivates,
    /// This many pending challenges become superseded (counted in the database).
    #[error("saving supersedes {count} pending challenge{}", if *.count == 1 { "" } else { "s" })]
    SupersedesPending {
        /// How many.
        count: usize,
    },
    /// A link that exists is dropped.
    #[error("saving drops the link of {} {address} (confirmed by {by})", if *.primary { "primary address" } else { "alias" })]
    DropsLink {
        /// Whether it is the primary address's link (else an alias's).
        primary: bool,
        /// The address.
        address: String,
        /// Who confirmed it: their name, or their user ID when the IdM gave none.
        by: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::MailboxType;
    use crate::row::fixtures::*;
    use crate::text::{Comment, PersonName};
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn r02_no_edit_can_change_the_primary_address() {
        // Change every editable field at once: the primary address is still not among the
        // changes, because RowFields does not hold it.
        let before = personal(&["a@example.org"]);
        let mut after = functional(&["b@example.org"], "boss@example.net");
        after.first_name = PersonName::empty();
        after.comment = Comment::parse("moved").unwrap();
        after.active = false;
        let c = RowEdit::between(&before, &after);
        assert_eq!(c.changed_fields.len(), Field::ALL.len() - 1);
        assert!(!c.changed_fields.contains(&Field::PrimaryAddress));
    }

    #[test]
    fn r04_alias_edit_supersedes_pending_and_drops_only_removed_alias_links() {
        let before = personal(&["a@example.org", "b@example.org"]);
        let after = personal(&["b@example.org", "c@example.org"]);
        let c = RowEdit::between(&before, &after);
        assert!(c.supersede_pending);
        assert_eq!(
            c.dropped_links,
            LinkDrop::Addresses(vec![addr("a@example.org")])
        );
        assert_eq!(c.added_aliases, [addr("c@example.org")]);
        assert_eq!(c.removed_aliases, [addr("a@example.org")]);
        assert_eq!(c.changed_fields, [Field::Aliases]);
        assert_eq!(c.activation, None);
    }

    #[test]
    fn r04_adding_an_alias_supersedes_pending_but_drops_no_link() {
        let c = RowEdit::between(&personal(&[]), &personal(&["new@example.org"]));
        assert!(c.supersede_pending);
        assert_eq!(c.dropped_links, LinkDrop::None);
        assert_eq!(c.added_aliases, [addr("new@example.org")]);
        assert!(c
            .describe()
            .iter()
            .any(|s| s.to_string().contains("new@example.org starts unconfirmed")));
    }

    #[test]
    fn r04_reordering_aliases_is_no_edit() {
        let before = personal(&["a@example.org", "b@example.org"]);
        let after = personal(&["b@example.org", "a@example.org"]);
        let c = RowEdit::between(&before, &after);
        assert!(c.is_unchanged());
        assert!(!c.supersede_pending);
        assert_eq!(c.dropped_links, LinkDrop::None);
        assert!(c.describe().is_empty());
    }

    #[test]
    fn r05_applicant_change_drops_all_links() {
        let before = functional(&["support@example.org"], "anna@example.org");
        let after = functional(&["support@example.org"], "bert@example.org");
        let c = RowEdit::between(&before, &after);
        assert!(c.supersede_pending);
        assert_eq!(c.dropped_links, LinkDrop::All);
        assert_eq!(c.changed_fields, [Field::Applicant]);
        assert!(c
            .describe()
            .iter()
            .any(|s| s.to_string().contains("drops the links of all addresses")));
    }

    #[test]
    fn r05_type_change_drops_all_links() {
        let before = personal(&["a@example.org"]);
        let mut after = functional(&["a@example.org"], "boss@example.org");
        after.last_name = before.last_name.clone();
        after.first_name = before.first_name.clone();
        let c = RowEdit::between(&before, &after);
        assert!(c.supersede_pending);
        assert_eq!(c.dropped_links, LinkDrop::All);
        assert_eq!(c.changed_fields, [Field::MailboxType, Field::Applicant]);
    }

    #[test]
    fn r05_dropping_all_links_wins_over_dropping_removed_aliases() {
        let before = functional(&["a@example.org"], "anna@example.org");
        let after = functional(&[], "bert@example.org");
        let c = RowEdit::between(&before, &after);
        assert_eq!(c.dropped_links, LinkDrop::All);
        assert_eq!(c.removed_aliases, [addr("a@example.org")]);
    }

    #[test]
    fn r06_name_edit_changes_nothing_else() {
        let before = personal(&["a@example.org"]);
        let mut after = before.clone();
        after.first_name = name("Anne");
        after.last_name = name("Schmidt-Weber");
        let c = RowEdit::between(&before, &after);
        assert!(!c.supersede_pending);
        assert_eq!(c.dropped_links, LinkDrop::None);
        assert!(c.added_aliases.is_empty() && c.removed_aliases.is_empty());
        assert_eq!(c.changed_fields, [Field::FirstName, Field::LastName]);
        assert!(c.describe().is_empty());
    }

    #[test]
    fn r06_comment_edit_changes_nothing_else() {
        let before = personal(&[]);
        let mut after = before.clone();
        after.comment = Comment::parse("on leave until May").unwrap();
        let c = RowEdit::between(&before, &after);
        assert!(!c.supersede_pending);
        assert_eq!(c.dropped_links, LinkDrop::None);
        assert_eq!(c.changed_fields, [Field::Comment]);
    }

    #[test]
    fn r07_deactivation_and_reactivation_touch_no_challenge_or_link() {
        let active = personal(&["a@example.org"]);
        let mut inactive = active.clone();
        inactive.active = false;
        let off = RowEdit::between(&active, &inactive);
        assert_eq!(off.activation, Some(Activation::Deactivated));
        assert!(!off.supersede_pending);
        assert_eq!(off.dropped_links, LinkDrop::None);
        let on = RowEdit::between(&inactive, &active);
        assert_eq!(on.activation, Some(Activation::Reactivated));
        assert!(!on.supersede_pending);
        assert_eq!(on.dropped_links, LinkDrop::None);
        assert!(on.describe()[0]
            .to_string()
            .contains("no new challenges are needed"));
    }

    #[test]
    fn unchanged_row_has_no_consequences() {
        let row = functional(&["a@example.org"], "anna@example.org");
        let c = RowEdit::between(&row, &row);
        assert!(c.is_unchanged());
        assert!(!c.supersede_pending);
        assert_eq!(c.activation, None);
    }

    /// The portal as far as challenges and links go: which addresses have a pending challenge
    /// and which are linked to a user.
    #[derive(Debug, Default)]
    struct Model {
        pending: BTreeSet<EmailAddress>,
        links: BTreeMap<EmailAddress, u8>,
    }

    impl Model {
        /// What the service does with the consequences of an edit.
        fn apply(&mut self, c: &EditConsequences) {
            if c.supersede_pending {
                self.pending.clear();
            }
            match &c.dropped_links {
                LinkDrop::None => {}
                LinkDrop::Addresses(addresses) => {
                    for a in addresses {
                        self.links.remove(a);
                    }
                }
                LinkDrop::All => self.links.clear(),
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        AddAlias(usize),
        RemoveAlias(usize),
        ChangeApplicant(usize),
        ToggleType,
        Rename(String),
        ToggleActive,
        SendRound,
        Confirm(usize, u8),
    }

    const POOL: [&str; 5] = [
        "a@example.org",
        "b@example.org",
        "c@example.org",
        "d@mail.example.org",
        "e@example.org",
    ];
    const APPLICANTS: [&str; 3] = ["anna@example.net", "bert@example.net", "cleo@example.net"];

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..POOL.len()).prop_map(Op::AddAlias),
            (0..POOL.len()).prop_map(Op::RemoveAlias),
            (0..APPLICANTS.len()).prop_map(Op::ChangeApplicant),
            Just(Op::ToggleType),
            "[A-Z][a-z]{0,8}".prop_map(Op::Rename),
            Just(Op::ToggleActive),
            Just(Op::SendRound),
            (0..POOL.len() + 1, any::<u8>()).prop_map(|(i, u)| Op::Confirm(i, u)),
        ]
    }

    /// The row after `op`, or `None` when the op does not edit the row.
    fn edited(row: &RowFields, op: &Op) -> Option<RowFields> {
        let mut after = row.clone();
        match op {
            Op::AddAlias(i) => after.aliases.push(addr(POOL[*i])),
            Op::RemoveAlias(i) => after.aliases.retain(|a| a.as_str() != POOL[*i]),
            Op::ChangeApplicant(i) => {
                if after.mailbox_type == MailboxType::Functional {
                    after.applicant = Some(addr(APPLICANTS[*i]));
                }
            }
            Op::ToggleType => {
                if after.mailbox_type == MailboxType::Personal {
                    after.mailbox_type = MailboxType::Functional;
                    after.applicant = Some(addr(APPLICANTS[0]));
                    after.first_name = PersonName::empty();
                } else {
                    after.mailbox_type = MailboxType::Personal;
                    after.applicant = None;
                    after.first_name = name("Anna");
                }
            }
            Op::Rename(n) => after.last_name = name(n),
            Op::ToggleActive => after.active = !after.active,
            Op::SendRound | Op::Confirm(..) => return None,
        }
        Some(after)
    }

    proptest! {
        #[test]
        fn an_edit_never_leaves_a_pending_challenge_or_link_for_an_address_not_in_the_row(
            ops in proptest::collection::vec(op(), 1..40)
        ) {
            let primary = addr("primary@example.org");
            let mut row = personal(&[]);
            let mut model = Model::default();
            for op in &ops {
                match op {
                    Op::SendRound => {
                        if let Ok(round) = crate::challenge::challenge_round(&primary, &row) {
                            model.pending = round.into_iter().map(|p| p.address).collect();
                        }
                    }
                    Op::Confirm(i, user) => {
                        let address = if *i == POOL.len() { primary.clone() } else { addr(POOL[*i]) };
                        if row.active && model.pending.remove(&address) {
                            model.links.insert(address, *user);
                        }
                    }
                    edit => {
                        let Some(after) = edited(&row, edit) else { continue };
                        // Only edits that pass validation are saved, as in the portal.
                        if after.validate(&primary).is_err() {
                            continue;
                        }
                        let consequences = RowEdit::between(&row, &after);
                        model.apply(&consequences);
                        row = after;
                    }
                }
                let addresses: BTreeSet<&EmailAddress> = row.addresses(&primary).collect();
                for a in &model.pending {
                    prop_assert!(addresses.contains(a), "pending challenge for {} after {:?}", a, op);
                }
                for a in model.links.keys() {
                    prop_assert!(addresses.contains(a), "link for {} after {:?}", a, op);
                }
            }
        }

        #[test]
        fn links_of_addresses_that_stay_survive_an_alias_edit(
            keep in proptest::collection::btree_set(0..POOL.len(), 0..POOL.len()),
            drop in proptest::collection::btree_set(0..POOL.len(), 0..POOL.len()),
        ) {
            let before_aliases: Vec<&str> = keep.union(&drop).map(|&i| POOL[i]).collect();
            let after_aliases: Vec<&str> = keep.iter().map(|&i| POOL[i]).collect();
            let c = RowEdit::between(&personal(&before_aliases), &personal(&after_aliases));
            let dropped: Vec<EmailAddress> = match c.dropped_links {
                LinkDrop::Addresses(a) => a,
                LinkDrop::None => Vec::new(),
                LinkDrop::All => { prop_assert!(false, "an alias edit never drops all links"); unreachable!() }
            };
            for i in &keep {
                prop_assert!(!dropped.contains(&addr(POOL[*i])));
            }
            for i in drop.difference(&keep) {
                prop_assert!(dropped.contains(&addr(POOL[*i])));
            }
        }
    }
}
