//! The one error type of the services: a message a person can act on, and the cause for the log.

use domain::address::{AddressError, DomainError, DomainName};
use domain::text::TextError;

use crate::identity::GroupNameError;
use crate::idm_bar::IdmInactive;
use crate::roles::Refusal;

/// Why a use case did not happen.
///
/// `Display` is safe to show to whoever asked: it names what to change and never holds a secret or
/// a database detail. [`ServiceError::Internal`] shows only "internal error"; its cause is kept as
/// the error's `source()` for the log.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The domain name as entered is not a domain name.
    #[error(transparent)]
    InvalidDomainName(#[from] DomainError),
    /// An operator tried to register a domain twice.
    #[error("{0} is already registered")]
    DomainAlreadyRegistered(DomainName),
    /// The domain is not registered in the portal.
    #[error("{0} is not registered")]
    DomainNotRegistered(DomainName),
    /// A domain's contact group as entered is not a usable group name.
    #[error("invalid contact group: {0}")]
    InvalidContactGroup(GroupNameError),
    /// A local account's group as entered is not a usable group name.
    #[error("invalid group: {0}")]
    InvalidGroup(GroupNameError),
    /// A local account id breaks the id rules; the text says which.
    #[error("invalid account id: {0}")]
    InvalidAccountId(String),
    /// A given name or family name is too long or holds control characters.
    #[error("invalid {field}: {problem}")]
    InvalidName {
        /// "given name" or "family name".
        field: &'static str,
        /// What is wrong with it.
        problem: TextError,
    },
    /// A local account's email address is not an email address.
    #[error(transparent)]
    InvalidEmail(AddressError),
    /// The new password is refused; the text says why, never what it was.
    #[error("the password is not acceptable: {0}")]
    WeakPassword(&'static str),
    /// A local account with this id exists already.
    #[error("the account {0} already exists")]
    AccountExists(String),
    /// No local account has this id.
    #[error("there is no account {0}")]
    AccountNotFound(String),
    /// A SCIM token name breaks the name rules; the text says which.
    #[error("invalid token name: {0}")]
    InvalidTokenName(String),
    /// A SCIM token in force already has this name.
    #[error("a token called {0} exists already (revoke it first, or choose another name)")]
    TokenNameTaken(String),
    /// No SCIM token in force has this name.
    #[error("there is no token called {0} in force")]
    TokenNotFound(String),
    /// The person asking may not do this (Q1).
    #[error(transparent)]
    Forbidden(#[from] Refusal),
    /// The IdM says the person is inactive or deleted (R22): no session starts for them.
    #[error(transparent)]
    IdmInactive(#[from] IdmInactive),
    /// A database or system failure; details only in the log.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl ServiceError {
    /// Wraps a failure of the database or the system that the person asking cannot fix.
    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> ServiceError {
        ServiceError::Internal(Box::new(err))
    }

    /// Whether this is an internal failure (log it with its cause; answer 500), rather than a
    /// refusal of the input or of the person.
    pub fn is_internal(&self) -> bool {
        matches!(self, ServiceError::Internal(_))
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(err: sqlx::Error) -> Self {
        ServiceError::internal(err)
    }
}

impl From<getrandom::Error> for ServiceError {
    // getrandom's `std::error::Error` impl needs its `std` feature; its Display is enough for a log.
    fn from(err: getrandom::Error) -> Self {
        ServiceError::Internal(
            format!("the operating system's random generator failed: {err}").into(),
        )
    }
}
