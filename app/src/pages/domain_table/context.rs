//! What the table's parts share through context: the selection, a way to reload, the message line
//! and the open confirmation question of a row.

use std::collections::BTreeMap;

use domain::challenge::SendReport;
use domain::handover::HeldCertificate;
use domain::table::RowInput;
use leptos::prelude::*;

use crate::dates::{Clock, WallTime};
use crate::error::AppError;

/// What the rows of the table share: the selection, a way to reload, and the message line.
#[derive(Clone, Copy)]
pub struct TableContext {
    /// Selected rows: id → version.
    pub selected: RwSignal<BTreeMap<i64, i64>>,
    /// R19: the valid certificates of the selected rows as the table showed them (with their
    /// end on the viewer's clock), for the deactivation dialog: id → certificates.
    pub selected_certificates: RwSignal<BTreeMap<i64, Vec<(HeldCertificate, WallTime)>>>,
    /// Bumped to reload the page from the server.
    pub reload: RwSignal<u32>,
    /// The last outcome to show above the table.
    pub notice: RwSignal<Option<Result<&'static str, AppError>>>,
    /// The last sending of challenges.
    pub sent: RwSignal<Option<SendReport>>,
    /// How many certificates the last bulk revocation revoked.
    pub revoked: RwSignal<Option<usize>>,
    /// The open confirmation question of a row: row id, the version it was asked for, what.
    pub confirming: RwSignal<Option<(i64, i64, Confirming)>>,
}

impl TableContext {
    /// A change was saved: reload and say so.
    pub fn saved(&self) {
        self.sent.set(None);
        self.revoked.set(None);
        self.notice.set(Some(Ok("saved")));
        self.reload.update(|n| *n += 1);
    }

    /// A change failed as a whole (e.g. changed meanwhile): show why and show the current rows.
    pub fn failed(&self, e: AppError) {
        self.notice.set(Some(Err(e)));
        self.reload.update(|n| *n += 1);
    }
}

/// What the row is asking the NAP to confirm.
#[derive(Clone, Debug, PartialEq)]
pub enum Confirming {
    /// Saving `form` will have these consequences.
    Save(RowInput, Vec<domain::edit::Consequence>),
    /// Deactivate or reactivate.
    Active(bool),
    /// Delete for good.
    Delete,
    /// Send challenges for the row's addresses (R9).
    Send,
    /// R18: reactivate and send a new challenge round in one step.
    ReactivateAndSend,
}

/// `read` of the viewer's clock for what the table shows (R16): provided by the table and the
/// worklist for their rows, from the server's answer; empty (every moment written in UTC) where
/// none is. Read in place, not cloned: every badge reads it, and the clock holds every moment of
/// the page.
pub fn on_clock<R>(read: impl Fn(&Clock) -> R) -> R {
    with_context::<Clock, _>(|clock| read(clock)).unwrap_or_else(|| read(&Clock::default()))
}

/// `certificates` with their end on `clock`.
pub fn with_ends(
    certificates: &[HeldCertificate],
    clock: &Clock,
) -> Vec<(HeldCertificate, WallTime)> {
    certificates
        .iter()
        .map(|c| (c.clone(), clock.wall(c.not_after)))
        .collect()
}
