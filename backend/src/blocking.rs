//! Work that holds a thread for long (a bulk write on a database handle, checking a large file on
//! every core) run from async code without stalling the other tasks of the server.

/// Runs `work` on this thread. On the server's multi-threaded runtime it runs in
/// `block_in_place`: the runtime hands this thread's other tasks to another worker meanwhile. On a
/// current-thread runtime (tests) or outside a runtime it simply runs.
pub(crate) fn run<R>(work: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}
