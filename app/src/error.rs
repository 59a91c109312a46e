//! The error type of every server function: typed on the wire, and safe to show.
//!
//! Internal causes (database, I/O) are logged on the server and cross the wire only as `Internal`,
//! never with their details (STYLE.md principle 5, SPEC Q6).

use domain::message::Message;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What a server function can answer instead of a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Nobody is logged in.
    #[error("Please log in.")]
    Unauthenticated,
    /// Logged in, but not allowed to do this (Q1).
    #[error("You are not allowed to do this.")]
    Forbidden,
    /// The thing asked for does not exist (or is not visible to this user).
    #[error("Not found.")]
    NotFound,
    /// The request itself is malformed (the function's arguments could not be read); the text
    /// says what.
    #[error("{0}")]
    Invalid(String),
    /// A service refused the request; the page words the message in the reader's language.
    #[error("{0}")]
    Refused(Message),
    /// A fault on the server; details are only in the server log.
    #[error("Something went wrong on the server. Please try again; if it persists, tell the portal's operators.")]
    Internal,
    /// The request did not reach the server or its answer could not be read.
    #[error("The server could not be reached: {0}")]
    Transport(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}
