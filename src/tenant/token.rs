//! API tokens: generation and hashing.
//!
//! Owns: the token format (`slc_` + 32 random bytes, URL-safe base64 without padding)
//! and `TokenHash`, the SHA-256 digest that config and the registry store instead of the
//! token. Does not own: where tokens come from in a request (see `credentials`).

use std::fmt;

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Prefix of tokens sluice generates (tokens from elsewhere are accepted too).
pub const TOKEN_PREFIX: &str = "slc_";

/// A new random token: `slc_` + 43 characters (32 bytes from the thread CSPRNG).
pub fn generate() -> String {
    let bytes: [u8; 32] = rand::random();
    let mut s = String::with_capacity(TOKEN_PREFIX.len() + 43);
    s.push_str(TOKEN_PREFIX);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(bytes, &mut s);
    s
}

/// SHA-256 of the token, lowercase hex: what `token_sha256` holds.
pub fn hash(token: &str) -> String {
    TokenHash::of(token).to_string()
}

/// A SHA-256 token digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenHash([u8; 32]);

/// Why a `token_sha256` entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid token hash: expected 64 lowercase hex characters (sha-256, see `sluice token hash`)"
)]
pub struct BadTokenHash;

impl TokenHash {
    /// Digest of a plaintext token.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Parses exactly 64 lowercase hex characters.
    pub fn parse(s: &str) -> Result<Self, BadTokenHash> {
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(BadTokenHash);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| BadTokenHash)?;
        Ok(Self(out))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({self})")
    }
}

impl std::str::FromStr for TokenHash {
    type Err = BadTokenHash;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_the_format_and_differ() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(a.starts_with("slc_"));
        let body = &a[4..];
        assert_eq!(body.len(), 43);
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .unwrap();
        assert_eq!(raw.len(), 32);
    }

    #[test]
    fn hash_is_sha256_lowercase_hex() {
        // sha256("test"), the value in the config example.
        assert_eq!(
            hash("test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        assert_eq!(TokenHash::parse(&hash("x")).unwrap(), TokenHash::of("x"));
    }

    #[test]
    fn hash_parse_rejects_bad_hex() {
        let good = hash("test");
        assert!(TokenHash::parse(&good).is_ok());
        assert!(TokenHash::parse(&good.to_uppercase()).is_err());
        assert!(TokenHash::parse(&good[..63]).is_err());
        assert!(TokenHash::parse(&format!("{good}0")).is_err());
        assert!(TokenHash::parse(&good.replace('9', "g")).is_err());
        assert!(TokenHash::parse("").is_err());
    }
}
