//! Who acts on rows, and on which domains (R1, Q1).

use domain::address::DomainName;
use domain::message::Message;

use super::ServiceError;
use crate::roles::Viewer;
use crate::storage::domains::list_domains;
use crate::storage::Conn;

/// The person changing rows and the domains involved, worked out once per request or CSV upload.
pub(crate) struct RowContext {
    /// User ID for the audit trail.
    pub(crate) actor: String,
    /// Operators read every domain's table and trail (SPEC §1), but change none.
    pub(super) reads_all: bool,
    /// The domains the person is a NAP of (R1), by id.
    pub(super) administered: Vec<(i64, DomainName)>,
    /// The same names, as `RowFields::check_administered` takes them.
    pub(crate) administered_names: Vec<DomainName>,
    /// Every registered domain: a new row goes to the most specific one its primary lies in.
    /// Loaded for changes and for operators only.
    pub(crate) registered: Vec<(i64, DomainName)>,
    /// The same names, as `EmailAddress::owning_domain` takes them.
    pub(crate) registered_names: Vec<DomainName>,
}

/// What a [`RowContext`] is loaded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContextFor {
    /// Listing and reading rows and the trail.
    Reading,
    /// Creating and changing rows.
    Changes,
}

fn stored_domain(name: &str) -> Result<DomainName, ServiceError> {
    DomainName::parse(name).map_err(|e| ServiceError::corrupt(e.to_string()))
}

impl RowContext {
    /// Everything the use cases need: for changes, and for an operator's reading, the registered
    /// domains too (one query); a NAP's reading needs no query at all.
    pub(crate) async fn load(
        conn: &mut Conn,
        viewer: &Viewer,
        purpose: ContextFor,
    ) -> Result<RowContext, ServiceError> {
        let administered = viewer
            .nap_domains
            .iter()
            .map(|d| Ok((d.id, stored_domain(&d.name)?)))
            .collect::<Result<Vec<_>, ServiceError>>()?;
        let registered = if purpose == ContextFor::Changes || viewer.is_operator {
            list_domains(conn)
                .await?
                .iter()
                .map(|d| Ok((d.id, stored_domain(&d.name)?)))
                .collect::<Result<Vec<_>, ServiceError>>()?
        } else {
            Vec::new()
        };
        Ok(RowContext {
            actor: viewer.user.user_id.clone(),
            reads_all: viewer.is_operator,
            administered_names: administered.iter().map(|(_, n)| n.clone()).collect(),
            administered,
            registered_names: registered.iter().map(|(_, n)| n.clone()).collect(),
            registered,
        })
    }

    /// The portal itself acting on every registered domain's rows, audited as `actor`: the IdM's
    /// deprovisioning (R22) deactivates a leaver's rows through the same core as a NAP (R8).
    pub(crate) async fn for_system(
        conn: &mut Conn,
        actor: &str,
    ) -> Result<RowContext, ServiceError> {
        let registered = list_domains(conn)
            .await?
            .iter()
            .map(|d| Ok((d.id, stored_domain(&d.name)?)))
            .collect::<Result<Vec<_>, ServiceError>>()?;
        let names: Vec<DomainName> = registered.iter().map(|(_, n)| n.clone()).collect();
        Ok(RowContext {
            actor: actor.to_owned(),
            reads_all: true,
            administered: registered.clone(),
            administered_names: names.clone(),
            registered_names: names,
            registered,
        })
    }

    /// R1 for changes: only the domain's NAPs.
    pub(crate) fn require_nap_of(&self, domain_id: i64) -> Result<&DomainName, ServiceError> {
        self.administered
            .iter()
            .find(|(id, _)| *id == domain_id)
            .map(|(_, name)| name)
            .ok_or(ServiceError::Forbidden(Message::NotNap))
    }

    /// For reading: the domain's NAPs and operators.
    pub(super) fn require_reader_of(&self, domain_id: i64) -> Result<&DomainName, ServiceError> {
        if self.reads_all {
            self.registered
                .iter()
                .find(|(id, _)| *id == domain_id)
                .map(|(_, name)| name)
                .ok_or(ServiceError::NotFound(Message::NoSuchDomain))
        } else {
            self.require_nap_of(domain_id)
        }
    }

    /// Q1: a row asked for by id must lie in a domain the person may read (`change`: administer),
    /// and a row they may not even read answers exactly as an unknown one, so that row ids tell
    /// nothing about other domains. Someone who may read no table at all is refused before the
    /// row is looked up: that answer does not depend on the id either. `None` is an unknown row.
    pub(super) fn row_domain(
        &self,
        row_domain_id: Option<i64>,
        change: bool,
    ) -> Result<&DomainName, ServiceError> {
        if !self.reads_all && self.administered.is_empty() {
            return Err(ServiceError::Forbidden(Message::NotNap));
        }
        let domain_id = row_domain_id.ok_or(ServiceError::NotFound(Message::NoSuchRow))?;
        if !self.reads_all && self.require_nap_of(domain_id).is_err() {
            return Err(ServiceError::NotFound(Message::NoSuchRow));
        }
        if change {
            self.require_nap_of(domain_id)
        } else {
            self.require_reader_of(domain_id)
        }
    }

    /// A domain named in a request, by name. Someone who may not read it learns nothing about
    /// whether it is registered.
    pub(crate) fn readable_domain(&self, name: &str) -> Result<(i64, &DomainName), ServiceError> {
        let (list, refusal) = if self.reads_all {
            (
                &self.registered,
                ServiceError::NotFound(Message::NoSuchDomain),
            )
        } else {
            (&self.administered, ServiceError::Forbidden(Message::NotNap))
        };
        let Ok(name) = DomainName::parse(name) else {
            return Err(refusal);
        };
        list.iter()
            .find(|(_, n)| *n == name)
            .map(|(id, n)| (*id, n))
            .ok_or(refusal)
    }
}
