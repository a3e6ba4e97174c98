//! The meeting's updates for the UI, in order: the app pushes, the UI pulls what came after
//! what it has seen (`meeting_updates`), waiting when there is nothing new.

use std::sync::Mutex;

use confab_ipc::meeting::{MeetingUpdate, UpdateBatch};
use tokio::sync::Notify;

use crate::lock;

/// Updates kept for a UI that fell behind; older ones are folded away (a participant list or
/// waiting room supersedes the ones before it, so only chat can be lost, and only after a
/// thousand lines in one go).
const KEPT: usize = 1000;

#[derive(Debug, Default)]
pub struct UpdateLog {
    inner: Mutex<Log>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct Log {
    /// The sequence number of `updates[0]`.
    first: u64,
    updates: Vec<MeetingUpdate>,
}

impl UpdateLog {
    pub fn push(&self, update: MeetingUpdate) {
        {
            let mut log = lock(&self.inner);
            log.updates.push(update);
            if log.updates.len() > KEPT {
                let excess = log.updates.len() - KEPT;
                log.updates.drain(..excess);
                log.first += excess as u64;
            }
        }
        self.changed.notify_waiters();
    }

    /// Everything after sequence number `after` (what the UI saw last), without waiting.
    pub fn after_now(&self, after: u64) -> UpdateBatch {
        let log = lock(&self.inner);
        let next = log.first + log.updates.len() as u64;
        let skip = after
            .saturating_sub(log.first)
            .min(log.updates.len() as u64) as usize;
        UpdateBatch {
            updates: log.updates[skip..].to_vec(),
            next,
        }
    }

    /// Everything after `after`, waiting until there is something.
    pub async fn after(&self, after: u64) -> UpdateBatch {
        loop {
            let changed = self.changed.notified();
            let batch = self.after_now(after);
            if !batch.updates.is_empty() {
                return batch;
            }
            changed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_gets_what_came_after_what_it_saw() {
        let log = UpdateLog::default();
        log.push(MeetingUpdate::Waiting);
        log.push(MeetingUpdate::Admitted);
        let all = log.after_now(0);
        assert_eq!(
            all.updates,
            [MeetingUpdate::Waiting, MeetingUpdate::Admitted]
        );
        assert_eq!(all.next, 2);
        assert!(log.after_now(2).updates.is_empty());
        assert_eq!(log.after_now(1).updates, [MeetingUpdate::Admitted]);
    }

    #[test]
    fn a_reader_far_behind_gets_what_is_kept() {
        let log = UpdateLog::default();
        for _ in 0..KEPT + 5 {
            log.push(MeetingUpdate::Waiting);
        }
        let batch = log.after_now(0);
        assert_eq!(batch.updates.len(), KEPT);
        assert_eq!(batch.next, (KEPT + 5) as u64);
    }

    #[tokio::test]
    async fn waiting_readers_wake_on_the_next_update() {
        let log = std::sync::Arc::new(UpdateLog::default());
        let reader = tokio::spawn({
            let log = log.clone();
            async move { log.after(0).await }
        });
        tokio::task::yield_now().await;
        log.push(MeetingUpdate::Admitted);
        let batch = reader.await.expect("reader");
        assert_eq!(batch.updates, [MeetingUpdate::Admitted]);
    }
}
