//! The user-name rules both sides check: the client before it asks, the
//! server before it admits.

/// Names that can never be taken, because commands use them as targets.
pub const RESERVED_NAMES: &[&str] = &["all", "room", "server"];

/// Longest user name, in characters (all ASCII, so also bytes).
pub const MAX_NAME_LEN: usize = 32;

/// Why a name cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a name must not be empty")]
    Empty,
    #[error("a name is at most {MAX_NAME_LEN} characters")]
    TooLong,
    #[error("a name may only contain letters, digits, '_' and '-'")]
    BadCharacter,
    #[error("'{0}' is reserved")]
    Reserved(String),
}

/// Checks the name rules: 1–32 ASCII letters, digits, `_` or `-`, and not a
/// reserved word. Uniqueness (case-insensitive) is the server's to check.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(NameError::BadCharacter);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    if RESERVED_NAMES.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(NameError::Reserved(name.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let check = |name: &str, ok: bool| assert_eq!(validate_name(name).is_ok(), ok, "{name:?}");
        check("alice", true);
        check("A_b-9", true);
        check(&"x".repeat(32), true);
        check(&"x".repeat(33), false);
        check("", false);
        check("a b", false);
        check("ünï", false);
        check("a/b", false);
        check("ALL", false);
        check("server", false);
    }
}
