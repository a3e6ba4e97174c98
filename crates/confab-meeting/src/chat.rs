//! Chat as a meeting keeps it: messages go over LiveKit's `lk.chat` text streams (so LiveKit's
//! components and SDKs read them), and the host keeps the public ones and sends them to each
//! participant who arrives later, privately, on [`HISTORY_TOPIC`] (LiveKit Meet cannot).

use std::collections::{HashSet, VecDeque};

use confab_rtc::room::ChatMessage;
use serde::{Deserialize, Serialize};

/// The text-stream topic of the history the host sends a newcomer (a JSON array of
/// [`ChatEntry`]).
pub const HISTORY_TOPIC: &str = "confab.chat-history";
/// Messages the host keeps (the oldest go first).
pub const MAX_HISTORY: usize = 500;

/// One public message as the history carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatEntry {
    pub id: String,
    /// The sender's identity.
    pub from: String,
    pub message: String,
    /// Unix milliseconds, as the sender stamped it.
    pub timestamp: i64,
}

impl ChatEntry {
    pub fn from_message(message: &ChatMessage, sender: &str) -> Self {
        Self {
            id: message.id.clone(),
            from: message.from.clone().unwrap_or_else(|| sender.to_owned()),
            message: message.message.clone(),
            timestamp: message.timestamp,
        }
    }
}

/// The host's record of the public chat and of who already got it.
#[derive(Debug, Default)]
pub struct ChatHistory {
    entries: VecDeque<ChatEntry>,
    given_to: HashSet<String>,
}

impl ChatHistory {
    /// Keeps a public message (private ones are none of the history's business).
    pub fn record(&mut self, entry: ChatEntry) {
        if self.entries.iter().any(|kept| kept.id == entry.id) {
            return;
        }
        if self.entries.len() == MAX_HISTORY {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    pub fn entries(&self) -> Vec<ChatEntry> {
        self.entries.iter().cloned().collect()
    }

    /// The history to send `identity` now, once: None when it already has it or there is
    /// nothing to send.
    pub fn for_newcomer(&mut self, identity: &str) -> Option<String> {
        if self.entries.is_empty() || !self.given_to.insert(identity.to_owned()) {
            return None;
        }
        serde_json::to_string(&self.entries).ok()
    }

    /// Reads a history a host sent; malformed text is no history.
    pub fn decode(text: &str) -> Option<Vec<ChatEntry>> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> ChatEntry {
        ChatEntry {
            id: id.into(),
            from: "ada".into(),
            message: format!("message {id}"),
            timestamp: 1,
        }
    }

    #[test]
    fn a_newcomer_gets_the_history_once() {
        let mut history = ChatHistory::default();
        assert_eq!(history.for_newcomer("bob"), None, "nothing to send yet");
        history.record(entry("1"));
        history.record(entry("1"));
        let sent = history.for_newcomer("bob").expect("history");
        assert_eq!(ChatHistory::decode(&sent), Some(vec![entry("1")]));
        assert_eq!(history.for_newcomer("bob"), None);
    }

    #[test]
    fn the_oldest_messages_go_first() {
        let mut history = ChatHistory::default();
        for index in 0..=MAX_HISTORY {
            history.record(entry(&index.to_string()));
        }
        let kept = history.entries();
        assert_eq!(kept.len(), MAX_HISTORY);
        assert_eq!(kept[0].id, "1");
    }

    #[test]
    fn garbage_is_no_history() {
        assert_eq!(ChatHistory::decode("{"), None);
        assert_eq!(ChatHistory::decode(r#"[{"id":1}]"#), None);
    }
}
