//! Wall-clock time as Unix seconds, the unit of every time column and of the domain crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix seconds (UTC).
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
