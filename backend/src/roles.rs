//! Who may do what (SPEC §1, R1, Q1): a logged-in user's roles, worked out on the server for each
//! request from the session's groups and the registered domains.

use crate::storage::Db;
use domain::message::Message;

use crate::config::Config;
use crate::error::ServiceError;
use crate::sessions::{session_in_force, SessionUser};
use crate::storage::domains::{list_domains_of_groups, DomainRecord};

/// Why a request was refused: the person is logged in but lacks the role (HTTP 403 Forbidden).
///
/// The messages name no domain, so a refusal does not tell who administers what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Only operators may do this.
    #[error("only operators may do this")]
    OperatorOnly,
    /// Only the domain's NAPs may do this (R1).
    #[error("you are not a contact person (NAP) of this domain")]
    NotNapOfDomain,
}

// Here rather than beside `ServiceError`, so that the error module needs no role of its own.
impl From<Refusal> for ServiceError {
    fn from(refusal: Refusal) -> Self {
        ServiceError::Forbidden(match refusal {
            Refusal::OperatorOnly => Message::OperatorOnly,
            Refusal::NotNapOfDomain => Message::NotNap,
        })
    }
}

/// A logged-in person with their roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// Who it is.
    pub user: SessionUser,
    /// Member of the configured operator group.
    pub is_operator: bool,
    /// The domains whose contact group the person is in, by name: the domains they administer.
    pub nap_domains: Vec<DomainRecord>,
}

impl Viewer {
    /// Works out the roles of a session's user.
    pub async fn load(
        pool: &Db,
        user: SessionUser,
        config: &Config,
    ) -> Result<Viewer, ServiceError> {
        let mut conn = pool.acquire().await?;
        let nap_domains = list_domains_of_groups(&mut conn, &user.groups).await?;
        Ok(Viewer::with_domains(user, nap_domains, config))
    }

    /// The roles of a session's user, given the domains whose contact group is one of the user's
    /// groups (as `list_domains_of_groups` finds them).
    pub fn with_domains(
        user: SessionUser,
        nap_domains: Vec<DomainRecord>,
        config: &Config,
    ) -> Viewer {
        let is_operator = user.groups.contains(&config.operator_group);
        Viewer {
            user,
            is_operator,
            nap_domains,
        }
    }

    /// Whether the person administers at least one domain.
    pub fn is_nap(&self) -> bool {
        !self.nap_domains.is_empty()
    }

    /// Whether the person is a NAP of this domain (R1). Operators are not, unless in its group.
    pub fn administers(&self, domain_id: i64) -> bool {
        self.nap_domains.iter().any(|d| d.id == domain_id)
    }

    /// Whether the person may read this domain's table and trail: its NAPs and every operator.
    pub fn may_read_domain(&self, domain_id: i64) -> bool {
        self.is_operator || self.administers(domain_id)
    }

    /// Refuses anyone but operators.
    pub fn require_operator(&self) -> Result<(), Refusal> {
        if self.is_operator {
            Ok(())
        } else {
            Err(Refusal::OperatorOnly)
        }
    }

    /// Refuses anyone but the domain's NAPs; gives the domain for convenience.
    pub fn require_nap_of(&self, domain_id: i64) -> Result<&DomainRecord, Refusal> {
        self.nap_domains
            .iter()
            .find(|d| d.id == domain_id)
            .ok_or(Refusal::NotNapOfDomain)
    }
}

/// The person behind a session cookie with their roles (see [`crate::sessions::find_session`];
/// the roles as [`Viewer::load`] works them out), from the same single statement: what every
/// request asks first.
pub async fn find_viewer(
    pool: &Db,
    cookie_value: &str,
    now: i64,
    config: &Config,
) -> Result<Option<Viewer>, ServiceError> {
    Ok(session_in_force(pool, cookie_value, now, &config.session)
        .await?
        .map(|(user, nap_domains)| Viewer::with_domains(user, nap_domains, config)))
}
