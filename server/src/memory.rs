//! Memory a large request freed, given back to the system.
//!
//! glibc's allocator keeps what a program frees for its next allocations, in one arena per thread
//! that allocated it, and returns little of it to the system by itself. A CSV upload of 100 000
//! lines (SPEC P1) allocates some 130 MB for its plan; once answered, the server process kept
//! 142 MB of private memory, and the apply that follows, on another runtime thread and so another
//! arena, added its own on top of it (188 MB). `malloc_trim` hands the free pages of every arena
//! back.

/// Gives the memory the allocator holds free back to the system (glibc on Linux; elsewhere
/// nothing). Takes milliseconds for a hundred megabytes: for after large requests, not every one.
pub fn give_back_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` takes no pointers; it only returns the allocator's free pages.
    unsafe {
        libc::malloc_trim(0);
    }
}
