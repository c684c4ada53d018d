//! The process allocator: mimalloc, set up to hand freed memory back to the system at once
//! (`docs/adr/0009-allocator.md`). A binary declares
//! `#[global_allocator] static GLOBAL: pinit_kernel::allocator::Allocator = pinit_kernel::allocator::Allocator;`
//! and calls [`return_freed_memory`] first thing in `main` (the `pinit` binary, and the benchmarks so that they
//! measure what ships).

use std::ffi::{c_int, c_long};

pub use mimalloc::MiMalloc as Allocator;

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_t` (the same number in mimalloc 2 and 3; a test checks it).
const MI_OPTION_PURGE_DELAY: c_int = 15;

unsafe extern "C" {
    /// mimalloc's, linked by `libmimalloc-sys`.
    safe fn mi_option_set(option: c_int, value: c_long);
}

/// mimalloc keeps memory freed to it for 1 s (`purge_delay`) before handing it back to the system, and only acts
/// on that at a later allocation — which a quiet process does not make. So auth, after a burst of logins (argon2id
/// allocates 19 MiB per hash), held ~125 MiB until its blocking threads exited, and idle processes kept start-up
/// garbage. With no delay (and `no_thp`) the memory figures are those of glibc with `mmap_threshold=131072`, for
/// some of mimalloc's CPU gain (docs/adr/0009-allocator.md). `MIMALLOC_PURGE_DELAY` set by an operator wins
/// (mimalloc read it before `main`).
pub fn return_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" {
        safe fn mi_option_get(option: c_int) -> c_long;
    }

    /// Option 15 is the purge delay: its default is mimalloc 3's 1000 ms (mimalloc 2: 10 ms); the options around it
    /// default to 0 or 1, so a renumbering in a mimalloc upgrade fails here.
    #[test]
    fn option_15_is_the_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        let default = mi_option_get(MI_OPTION_PURGE_DELAY);
        assert!(
            matches!(default, 1000 | 10),
            "mimalloc option {MI_OPTION_PURGE_DELAY} defaults to {default}"
        );
    }
}
