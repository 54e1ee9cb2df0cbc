//! Comparing secrets (the gateway token, CSRF tokens) without telling an
//! attacker through timing how much of a guess was right.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Whether `given` equals `expected`, in time that depends on neither: both
/// are hashed first, so even their lengths do not show.
pub fn secrets_match(given: &[u8], expected: &[u8]) -> bool {
    let given = Sha256::digest(given);
    let expected = Sha256::digest(expected);
    given.ct_eq(&expected).into()
}

#[cfg(test)]
mod tests {
    use super::secrets_match;

    #[test]
    fn equal_only_when_equal() {
        assert!(secrets_match(b"token", b"token"));
        assert!(!secrets_match(b"token", b"tokeN"));
        assert!(!secrets_match(b"token", b"token2"));
        assert!(!secrets_match(b"", b"token"));
        assert!(secrets_match(b"", b""));
    }
}
