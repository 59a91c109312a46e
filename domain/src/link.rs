//! Links: which user has proven control of an address (R11).
//!
//! An address has at most one link. Confirming a challenge links the confirming user and
//! replaces whatever link the address had — that is how a recycled address (S3) or a new
//! applicant (S7) takes over. In storage this is an upsert on a table keyed by the address;
//! this type is what the audit record (R16) writes as "before" and "after".

use serde::{Deserialize, Serialize};

use crate::address::EmailAddress;

/// The change to an address's link when a challenge for it is confirmed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkChange {
    /// The address of the confirmed challenge.
    pub address: EmailAddress,
    /// The user ID linked before, if any.
    pub previous_user: Option<String>,
    /// The user ID linked from now on: whoever confirmed.
    pub new_user: String,
}

impl LinkChange {
    /// The link change for `confirming_user` confirming a challenge for `address`, which is
    /// currently linked to `current_user` (if anyone). The new link always wins.
    pub fn on_confirm(
        address: EmailAddress,
        current_user: Option<&str>,
        confirming_user: &str,
    ) -> LinkChange {
        LinkChange {
            address,
            previous_user: current_user.map(str::to_owned),
            new_user: confirming_user.to_owned(),
        }
    }

    /// Whether another user loses the address (worth saying in the audit trail and the
    /// confirmation page; the previous user keeps seeing their old certificates, R12).
    pub fn takes_over(&self) -> bool {
        self.previous_user
            .as_deref()
            .is_some_and(|previous| previous != self.new_user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::fixtures::addr;

    #[test]
    fn r11_first_confirmation_creates_the_link() {
        let change = LinkChange::on_confirm(addr("anna@example.org"), None, "sub-anna");
        assert_eq!(change.previous_user, None);
        assert_eq!(change.new_user, "sub-anna");
        assert!(!change.takes_over());
    }

    #[test]
    fn r11_confirming_replaces_an_earlier_link_of_the_address() {
        let change = LinkChange::on_confirm(addr("anna@example.org"), Some("sub-old"), "sub-new");
        assert_eq!(change.previous_user.as_deref(), Some("sub-old"));
        assert_eq!(change.new_user, "sub-new");
        assert!(change.takes_over());
    }

    #[test]
    fn r11_the_same_user_confirming_again_takes_nothing_over() {
        let change = LinkChange::on_confirm(addr("anna@example.org"), Some("sub-anna"), "sub-anna");
        assert!(!change.takes_over());
        assert_eq!(change.new_user, "sub-anna");
    }
}
