//! Raised hands and reactions: the participant's own attributes, so every LiveKit client sees
//! them, and they vanish with the participant.

use std::collections::HashMap;

/// `"raised"` while the hand is up; absent otherwise.
pub const HAND_ATTRIBUTE: &str = "confab.hand";
/// The latest reaction: `"<emoji> <unix ms>"` (the time makes the same emoji twice a change).
pub const REACTION_ATTRIBUTE: &str = "confab.reaction";
/// Reactions are a few characters (an emoji with modifiers), never text.
pub const MAX_REACTION_CHARS: usize = 8;

pub fn hand_attributes(raised: bool) -> HashMap<String, String> {
    let value = if raised { "raised" } else { "" };
    HashMap::from([(HAND_ATTRIBUTE.to_owned(), value.to_owned())])
}

pub fn reaction_attributes(emoji: &str, unix_ms: i64) -> Option<HashMap<String, String>> {
    let emoji = emoji.trim();
    let fits = !emoji.is_empty()
        && emoji.chars().count() <= MAX_REACTION_CHARS
        && !emoji.chars().any(|c| c.is_whitespace() || c.is_control());
    fits.then(|| HashMap::from([(REACTION_ATTRIBUTE.to_owned(), format!("{emoji} {unix_ms}"))]))
}

pub fn hand_raised(attributes: &HashMap<String, String>) -> bool {
    attributes
        .get(HAND_ATTRIBUTE)
        .is_some_and(|v| v == "raised")
}

/// The latest reaction and when it was made.
pub fn reaction(attributes: &HashMap<String, String>) -> Option<(String, i64)> {
    let (emoji, at) = attributes.get(REACTION_ATTRIBUTE)?.split_once(' ')?;
    let fits = !emoji.is_empty() && emoji.chars().count() <= MAX_REACTION_CHARS;
    fits.then(|| at.parse().ok().map(|at| (emoji.to_owned(), at)))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_go_up_and_down() {
        assert!(hand_raised(&hand_attributes(true)));
        assert!(!hand_raised(&hand_attributes(false)));
        assert!(!hand_raised(&HashMap::new()));
    }

    #[test]
    fn reactions_carry_their_time_and_refuse_text() {
        let attributes = reaction_attributes("👍", 1234).expect("reaction");
        assert_eq!(reaction(&attributes), Some(("👍".into(), 1234)));
        assert_eq!(reaction_attributes("buy my stuff now", 1), None);
        assert_eq!(reaction_attributes("", 1), None);
        let spoofed = HashMap::from([(REACTION_ATTRIBUTE.to_owned(), "a-very-long-text 5".into())]);
        assert_eq!(reaction(&spoofed), None);
    }
}
