//! Memory a large request freed, given back to the system.
//!
//! glibc's allocator keeps what a program frees for its next allocations, in one arena per thread
//! that allocated it, and returns little of it to the system by itself. A CSV upload of 100 000
//! lines (SPEC P1) allocates its plan; once answered, the server process kept nearly all of it as
//! private memory, and the apply that follows, on another runtime thread and so another arena,
//! added its own on top of it. `malloc_trim` hands the free pages of every arena back.
//!
//! glibc also raises the size from which it maps a block on its own instead of carving it from an
//! arena each time a mapped block is freed, up to 32 MB. After the first large upload the plan's
//! large vectors and the preview answer then came from the arenas, where they stay as holes after
//! they are freed. With the size fixed at 1 MiB every such block is mapped and unmapped, which
//! lowers SPEC P1's peak memory on the deployed server at the same time (figures in
//! bench/results.md, "Figures behind the code").

/// Blocks from 1 MiB are mapped on their own and unmapped when freed, for the whole process.
/// Called first thing in `main`, before any thread allocates. Requests allocate few blocks that
/// large (the table's page answer is some 100 KB), so the system calls cost nothing measurable.
pub fn map_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` takes no pointers; it sets one of the allocator's parameters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Gives the memory the allocator holds free back to the system (glibc on Linux; elsewhere
/// nothing). Takes milliseconds for a hundred megabytes: for after large requests, not every one.
pub fn give_back_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` takes no pointers; it only returns the allocator's free pages.
    unsafe {
        libc::malloc_trim(0);
    }
}
