//! Invitation links opened while the app runs, or that started it: `confab://join/<code>`
//! clicked in a browser or a chat reaches this instance (a second launch hands its link over
//! through the single-instance plugin and exits). They wait here until the UI takes them with
//! `next_invite`, which puts them in the join form.

use std::collections::VecDeque;
use std::sync::Mutex;

use confab_ipc::Invite;
use tokio::sync::Notify;

/// How many unclaimed links are kept (the oldest go first).
const MAX_WAITING: usize = 8;

#[derive(Debug, Default)]
pub struct Invites {
    waiting: Mutex<VecDeque<String>>,
    arrived: Notify,
}

impl Invites {
    /// Keeps `text` for the UI when it is a Confab invitation, in its canonical form; other
    /// URLs (and anything else on a command line) are ignored.
    pub fn offer(&self, text: &str) -> bool {
        // A bare code on a command line is not an invitation to open: only links are.
        let invite = Some(text.trim())
            .filter(|text| text.starts_with("confab://"))
            .and_then(|text| Invite::parse(text).ok());
        let Some(invite) = invite else {
            tracing::debug!("not an invitation link; ignored");
            return false;
        };
        let mut waiting = self
            .waiting
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if waiting.len() == MAX_WAITING {
            waiting.pop_front();
        }
        waiting.push_back(invite.link());
        drop(waiting);
        self.arrived.notify_one();
        true
    }

    /// The next link, once there is one.
    pub async fn next(&self) -> String {
        loop {
            let arrived = self.arrived.notified();
            if let Some(link) = self
                .waiting
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .pop_front()
            {
                return link;
            }
            arrived.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn links_wait_for_the_ui_in_order_and_other_arguments_are_ignored() {
        let invites = Invites::default();
        assert!(!invites.offer("--some-flag"));
        assert!(!invites.offer("abc-defg-hij"), "a bare code is not a link");
        assert!(!invites.offer("https://example.com/join/abc-defg-hij"));
        assert!(invites.offer("confab://join/ABC-DEFG-HIJ?host=10.0.0.2:7880"));
        assert!(invites.offer("confab://join/xyz-wxyz-xyz"));
        assert_eq!(
            invites.next().await,
            "confab://join/abc-defg-hij?host=10.0.0.2:7880"
        );
        assert_eq!(invites.next().await, "confab://join/xyz-wxyz-xyz");
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_when_a_link_arrives() {
        let invites = std::sync::Arc::new(Invites::default());
        let reader = tokio::spawn({
            let invites = invites.clone();
            async move { invites.next().await }
        });
        tokio::task::yield_now().await;
        invites.offer("confab://join/abc-defg-hij");
        let link = tokio::time::timeout(std::time::Duration::from_secs(5), reader)
            .await
            .expect("woken")
            .expect("joined");
        assert_eq!(link, "confab://join/abc-defg-hij");
    }
}
