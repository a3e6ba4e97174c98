//! Making meeting codes, and the slow hash under which a host advertises one on the LAN.
//!
//! A code is 10 random letters (26¹⁰ ≈ 1.4 × 10¹⁴ codes). Guessing one online is stopped by the
//! per-address limiter; the LAN advertisement carries only a salted hash stretched by
//! [`DISCOVERY_ROUNDS`], so someone on the network cannot recover a code offline either (every
//! guess costs the same 100 000 SHA-256 rounds, per advertised meeting).

use confab_ipc::MeetingCode;
use rand::Rng;
use sha2::{Digest, Sha256};

const LETTERS: &[u8; 26] = b"abcdefghijklmnopqrstuvwxyz";

/// SHA-256 rounds in a discovery hash: ~30 ms for the one person who types the code, years for
/// someone trying every code against a captured advertisement.
pub const DISCOVERY_ROUNDS: u32 = 100_000;

/// A fresh random code.
pub fn generate(rng: &mut impl Rng) -> MeetingCode {
    let letters: String = (0..10)
        .map(|_| char::from(LETTERS[rng.random_range(0..LETTERS.len())]))
        .collect();
    MeetingCode::parse(&letters).expect("ten lowercase letters are a meeting code")
}

/// The hash a host advertises for `code` with its `salt` (hex, 32 characters).
pub fn discovery_hash(code: &MeetingCode, salt: &[u8]) -> String {
    let mut digest: [u8; 32] = Sha256::new()
        .chain_update(salt)
        .chain_update(code.as_str().as_bytes())
        .finalize()
        .into();
    for _ in 1..DISCOVERY_ROUNDS {
        digest = Sha256::digest(digest).into();
    }
    hex(&digest[..16])
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `bytes` random bytes in hex (ids, secrets, salts, tokens).
pub fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    let random: Vec<u8> = (0..bytes).map(|_| rng.random()).collect();
    hex(&random)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_canonical_and_differ() {
        let mut rng = rand::rng();
        let first = generate(&mut rng);
        let second = generate(&mut rng);
        assert_eq!(MeetingCode::parse(first.as_str()).as_ref(), Ok(&first));
        assert_ne!(first, second);
    }

    #[test]
    fn the_discovery_hash_depends_on_code_and_salt_and_hides_the_code() {
        let code = MeetingCode::parse("abc-defg-hij").expect("code");
        let other = MeetingCode::parse("abc-defg-hik").expect("code");
        let hash = discovery_hash(&code, b"salt-one");
        assert_eq!(hash.len(), 32);
        assert_eq!(hash, discovery_hash(&code, b"salt-one"));
        assert_ne!(hash, discovery_hash(&code, b"salt-two"));
        assert_ne!(hash, discovery_hash(&other, b"salt-one"));
        assert!(!hash.contains("abc"));
    }
}
