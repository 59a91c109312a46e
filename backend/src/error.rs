//! The one error type of the services: what kind of refusal it is (which the web layers turn into
//! a status), the message for the person as data, and for failures the cause for the log.

use domain::address::DomainError;
use domain::message::Message;
use domain::table::RowView;

use crate::idm_bar::IdmInactive;

/// Why a use case did not happen.
///
/// The message is safe to show to whoever asked: it names what to change and never holds a secret
/// or a database detail; the pages word it in the reader's language, `Display` gives the English.
/// [`ServiceError::Internal`] shows only "internal error"; its cause is kept as the error's
/// `source()` for the log (STYLE.md principle 5).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The person may not do this (Q1, R1). HTTP 403.
    #[error("{0}")]
    Forbidden(Message),
    /// There is no such thing, or none the person may see (the two read alike, Q1). HTTP 404.
    #[error("{0}")]
    NotFound(Message),
    /// The input breaks a rule; [`Message::Fields`] when the errors belong to fields. HTTP 422.
    #[error("{0}")]
    Invalid(Message),
    /// It was changed since the version the request is based on (optimistic concurrency);
    /// holds the row as it is now when the change was to one row. HTTP 409.
    #[error("{0}")]
    ChangedMeanwhile(Message, Option<Box<RowView>>),
    /// The input is larger than the portal takes. HTTP 413.
    #[error("{0}")]
    TooLarge(Message),
    /// A database or system failure; details only in the log. HTTP 500.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl ServiceError {
    /// Wraps a failure of the database or the system that the person asking cannot fix.
    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> ServiceError {
        ServiceError::Internal(Box::new(err))
    }

    /// A stored value that the domain rules refuse: the database holds what it must not.
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> ServiceError {
        ServiceError::Internal(format!("stored data breaks the rules: {what}").into())
    }

    /// Field errors: the input breaks rules, each at its field.
    pub fn fields(errors: Vec<domain::row::FieldError>) -> ServiceError {
        ServiceError::Invalid(Message::Fields(errors))
    }

    /// The row was changed since the version an edit is based on; `now` is the row as it is now.
    pub fn changed_row(now: Box<RowView>) -> ServiceError {
        ServiceError::ChangedMeanwhile(Message::RowChangedMeanwhile, Some(now))
    }

    /// The field errors, when the input was refused at its fields.
    pub fn field_errors(&self) -> Option<&[domain::row::FieldError]> {
        self.message().and_then(Message::fields)
    }

    /// A refusal of the input.
    pub fn invalid(message: impl Into<Message>) -> ServiceError {
        ServiceError::Invalid(message.into())
    }

    /// Whether this is an internal failure (log it with its cause; answer 500), rather than a
    /// refusal of the input or of the person.
    pub fn is_internal(&self) -> bool {
        matches!(self, ServiceError::Internal(_))
    }

    /// The person lacks the role (403).
    pub fn is_forbidden(&self) -> bool {
        matches!(self, ServiceError::Forbidden(_))
    }

    /// There is no such thing for this person (404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ServiceError::NotFound(_))
    }

    /// The message for the person; `None` for an internal failure (which shows none).
    pub fn message(&self) -> Option<&Message> {
        match self {
            ServiceError::Forbidden(m)
            | ServiceError::NotFound(m)
            | ServiceError::Invalid(m)
            | ServiceError::ChangedMeanwhile(m, _)
            | ServiceError::TooLarge(m) => Some(m),
            ServiceError::Internal(_) => None,
        }
    }

    /// The HTTP status of this kind of error (for the server functions and the API alike).
    pub fn status(&self) -> u16 {
        match self {
            ServiceError::Forbidden(_) => 403,
            ServiceError::NotFound(_) => 404,
            ServiceError::Invalid(_) => 422,
            ServiceError::ChangedMeanwhile(..) => 409,
            ServiceError::TooLarge(_) => 413,
            ServiceError::Internal(_) => 500,
        }
    }
}

// R22: the IdM barred the person. A refusal with a message for them (as it was before the one
// error), not a missing role: they are told why, not "you may not".
impl From<IdmInactive> for ServiceError {
    fn from(_: IdmInactive) -> Self {
        ServiceError::Invalid(Message::IdmInactive)
    }
}

macro_rules! invalid_from {
    ($($ty:ty),*) => {$(
        impl From<$ty> for ServiceError {
            fn from(refusal: $ty) -> Self {
                ServiceError::Invalid(refusal.into())
            }
        }
    )*};
}

// Refusals of the input by the domain's rules.
invalid_from!(
    domain::certificate::RequestRefusal,
    domain::certificate::RevokeRefusal,
    domain::certificate::CsrError,
    domain::challenge::ConfirmRefusal,
    domain::address::AddressError
);

impl From<DomainError> for ServiceError {
    fn from(err: DomainError) -> Self {
        ServiceError::Invalid(err.into())
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
