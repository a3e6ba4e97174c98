//! Meeting codes: the short `abc-defg-hij` strings people read aloud or paste to join.
//!
//! Codes are ten ASCII letters grouped 3-4-3. They are case-insensitive and may be typed with or
//! without the dashes (`ABCDEFGHIJ` is the same code), because people copy them from chat, email
//! and phone screens. The canonical form is lowercase with dashes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

const GROUPS: [usize; 3] = [3, 4, 3];
const LETTERS: usize = 10;

/// A syntactically valid meeting code in canonical form (`abc-defg-hij`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MeetingCode(String);

/// Why a typed meeting code was rejected; each message tells the person how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeetingCodeError {
    #[error("Enter the meeting code you were given, like abc-defg-hij")]
    Empty,
    #[error("“{0}” can't be part of a meeting code: codes use the letters a–z")]
    InvalidCharacter(char),
    #[error("A meeting code looks like abc-defg-hij (3, 4 and 3 letters)")]
    WrongShape,
}

impl MeetingCode {
    /// Parses what a person typed or pasted. Surrounding whitespace is ignored.
    pub fn parse(input: &str) -> Result<Self, MeetingCodeError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(MeetingCodeError::Empty);
        }
        if let Some(bad) = trimmed
            .chars()
            .find(|c| !c.is_ascii_alphabetic() && *c != '-')
        {
            return Err(MeetingCodeError::InvalidCharacter(bad));
        }
        let lower = trimmed.to_ascii_lowercase();
        let has_expected_groups = if lower.contains('-') {
            let groups: Vec<&str> = lower.split('-').collect();
            groups.len() == GROUPS.len()
                && groups
                    .iter()
                    .zip(GROUPS)
                    .all(|(group, len)| group.len() == len)
        } else {
            lower.len() == LETTERS
        };
        if !has_expected_groups {
            return Err(MeetingCodeError::WrongShape);
        }
        let letters: String = lower.chars().filter(|c| *c != '-').collect();
        Ok(Self(format!(
            "{}-{}-{}",
            &letters[..3],
            &letters[3..7],
            &letters[7..]
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for MeetingCode {
    type Err = MeetingCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for MeetingCode {
    type Error = MeetingCodeError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MeetingCode> for String {
    fn from(code: MeetingCode) -> Self {
        code.0
    }
}

impl fmt::Display for MeetingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_canonical_shape() {
        let code = MeetingCode::parse("abc-defg-hij").expect("valid");
        assert_eq!(code.as_str(), "abc-defg-hij");
    }

    #[test]
    fn is_case_insensitive_and_trims_whitespace() {
        let code = MeetingCode::parse("  ABC-dEfG-HIJ\n").expect("valid");
        assert_eq!(code.to_string(), "abc-defg-hij");
    }

    #[test]
    fn accepts_the_letters_without_dashes() {
        let code = MeetingCode::parse("abcdefghij").expect("valid");
        assert_eq!(code.as_str(), "abc-defg-hij");
    }

    #[test]
    fn rejects_empty_input() {
        assert_eq!(MeetingCode::parse("   "), Err(MeetingCodeError::Empty));
    }

    #[test]
    fn rejects_digits_and_punctuation_naming_the_character() {
        assert_eq!(
            MeetingCode::parse("abc-d3fg-hij"),
            Err(MeetingCodeError::InvalidCharacter('3'))
        );
        assert_eq!(
            MeetingCode::parse("abc defg hij"),
            Err(MeetingCodeError::InvalidCharacter(' '))
        );
    }

    #[test]
    fn rejects_wrong_group_lengths() {
        for input in [
            "ab-cdefg-hij",
            "abcd-efg-hij",
            "abc-defg-hi",
            "abc-defg-hijk",
            "abc--defg-hij",
            "abc-defghij",
            "abcdefghi",
            "abcdefghijk",
            "-abc-defg-hij",
        ] {
            assert_eq!(
                MeetingCode::parse(input),
                Err(MeetingCodeError::WrongShape),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_non_ascii_letters() {
        assert_eq!(
            MeetingCode::parse("abc-défg-hij"),
            Err(MeetingCodeError::InvalidCharacter('é'))
        );
    }

    #[test]
    fn round_trips_through_serde_and_validates_on_the_way_in() {
        let code = MeetingCode::parse("xyz-abcd-efg").expect("valid");
        let json = serde_json::to_string(&code).expect("serialise");
        assert_eq!(json, r#""xyz-abcd-efg""#);
        let back: MeetingCode = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, code);
        assert!(serde_json::from_str::<MeetingCode>(r#""not-a-code""#).is_err());
    }

    /// Every string that parses must re-parse to itself (canonical form is a fixed point), over a
    /// deterministic spread of mixed inputs.
    #[test]
    fn canonical_form_is_a_fixed_point() {
        let alphabet: Vec<char> = "abcXYZabcXYZ-9é ".chars().collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut accepted = 0;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 14) as usize;
            let input: String = (0..len)
                .map(|i| alphabet[((state >> (i * 4)) as usize) % alphabet.len()])
                .collect();
            if let Ok(code) = MeetingCode::parse(&input) {
                let again = MeetingCode::parse(code.as_str()).expect("canonical re-parses");
                assert_eq!(again, code);
                assert_eq!(code.as_str().len(), 12);
                accepted += 1;
            }
        }
        assert!(accepted > 0, "the generator never produced a valid code");
    }
}
