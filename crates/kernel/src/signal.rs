//! A wake-up signal between tasks of one process: "something changed, look again".
//!
//! The outbox pokes its relay after a commit; the notification consumers poke the push dispatcher after
//! arming a notification. A wake-up sent while nobody waits is kept (one), so it is never lost between a
//! waiter's check and its wait.

use std::sync::Arc;

use tokio::sync::Notify;

/// Cheap to clone; every clone wakes the same waiter.
#[derive(Debug, Clone, Default)]
pub struct WakeSignal(Arc<Notify>);

impl WakeSignal {
    pub fn new() -> Self {
        Self::default()
    }

    /// Something changed: the waiter looks again.
    pub fn wake(&self) {
        self.0.notify_one();
    }

    /// Waits for the next [`WakeSignal::wake`] (or returns at once for one sent while nobody waited).
    pub async fn notified(&self) {
        self.0.notified().await
    }
}
