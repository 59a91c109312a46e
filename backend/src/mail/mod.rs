//! Mail: the texts ([`templates`]), the ways out ([`transport`]: a folder of `.eml` files or an
//! SMTP relay) and the outbox worker that delivers queued mail ([`worker`]).
//!
//! Use cases never send mail themselves: they queue it in the outbox inside their transaction
//! (so a crash loses none) and wake the worker.

pub mod deprovisioning_mail;
pub mod journal;
pub mod message_id;
pub mod templates;
pub mod transport;
pub mod worker;

pub use crate::storage::outbox::{delivery_of_challenges, Delivery, OutboxMail};
pub use transport::{DeliverMail, DeliveryError, MailTransport, TransportConfigError};
pub use worker::{deliver_due_mails, run_outbox_worker, RoundOutcome, WorkerSettings};
