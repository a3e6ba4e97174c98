//! Server-assigned ids. LiveKit SDKs require the prefixes (`RM_`, `PA_`, `TR_`) and the Rust SDK
//! panics on ids without them.

use rand::Rng;
use rand::distr::Alphanumeric;

const RANDOM_LEN: usize = 12;

pub fn room_sid() -> String {
    with_prefix("RM_")
}

pub fn participant_sid() -> String {
    with_prefix("PA_")
}

pub fn track_sid() -> String {
    with_prefix("TR_")
}

/// Identifies this server process in ServerInfo.
pub fn node_id() -> String {
    with_prefix("ND_")
}

fn with_prefix(prefix: &str) -> String {
    let random: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(RANDOM_LEN)
        .map(char::from)
        .collect();
    format!("{prefix}{random}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_the_prefixes_sdks_parse() {
        assert!(room_sid().starts_with("RM_"));
        let participant = participant_sid();
        assert!(participant.starts_with("PA_"));
        assert_eq!(participant.len(), 3 + RANDOM_LEN);
        assert!(participant[3..].chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn ids_do_not_repeat() {
        let mut ids: Vec<String> = (0..1_000).map(|_| participant_sid()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 1_000);
    }
}
