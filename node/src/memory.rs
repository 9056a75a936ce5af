//! Giving freed memory back to the system after a large one-off
//! allocation (a snapshot's content is parsed whole): glibc keeps freed
//! heap for reuse, and an appliance's resident memory would show that
//! high-water mark for good.

/// Returns the heap's free pages to the system (glibc; elsewhere nothing).
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory no allocation uses.
    unsafe {
        libc::malloc_trim(0);
    }
}
