//! Locks that survive a panic on another thread.
//!
//! The pipeline's mutexes guard state that is whole between statements (a mix, a newest
//! frame, a device choice): a panic while one was held is a bug worth its log line, not a
//! reason to take every other participant's audio or video down with it.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, going on past a poisoning panic.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
