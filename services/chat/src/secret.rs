//! The shared secret Kakao sends in the `X-Encore-Skill-Secret` header, configured in the
//! skill's settings. Only its SHA-256 digest is kept, so the secret cannot end up in a log,
//! and presented values are compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The header Kakao sends the secret in (header names are case-insensitive).
pub const SECRET_HEADER: &str = "x-encore-skill-secret";

/// Shortest secret accepted: a guessable one is no protection.
pub const MIN_SECRET_BYTES: usize = 16;

/// Why a secret is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the skill secret must be at least {MIN_SECRET_BYTES} bytes long")]
    TooShort,
}

/// The configured skill secret.
#[derive(Clone)]
pub struct SkillSecret {
    digest: [u8; 32],
}

impl SkillSecret {
    /// Keeps the digest of `secret` (surrounding whitespace ignored).
    pub fn new(secret: &str) -> Result<Self, SecretError> {
        let secret = secret.trim();
        if secret.len() < MIN_SECRET_BYTES {
            return Err(SecretError::TooShort);
        }
        Ok(Self {
            digest: Sha256::digest(secret.as_bytes()).into(),
        })
    }

    /// [`SkillSecret::new`] for a value read from configuration: an error names
    /// `ENCORE_SKILL_SECRET`.
    pub fn from_config(secret: &str) -> Result<Self, encore_platform::ConfigError> {
        Self::new(secret).map_err(|e| encore_platform::ConfigError::Invalid {
            key: encore_platform::config::keys::SKILL_SECRET,
            reason: e.to_string(),
        })
    }

    /// True when `presented` is the secret; the time taken does not depend on where the
    /// two differ.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.trim_ascii()).into();
        self.digest.ct_eq(&presented).into()
    }
}

impl std::fmt::Debug for SkillSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SkillSecret(redacted)")
    }
}

/// Whether the skill endpoint checks the secret.
#[derive(Debug, Clone)]
pub enum SecretGuard {
    /// Every request must present the secret (always so in Lambda).
    Required(SkillSecret),
    /// No check: only allowed while the local server listens on loopback.
    Disabled,
}

impl SecretGuard {
    /// True when a request with the secret header value `presented` may proceed.
    pub fn admits(&self, presented: Option<&[u8]>) -> bool {
        match self {
            Self::Required(secret) => presented.is_some_and(|value| secret.matches(value)),
            Self::Disabled => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_secret() {
        let secret = SkillSecret::new(" correct horse battery ").unwrap();
        assert!(secret.matches(b"correct horse battery"));
        assert!(!secret.matches(b"correct horse batterz"));
        assert!(!secret.matches(b""));
        assert_eq!(
            SkillSecret::new("short").unwrap_err(),
            SecretError::TooShort
        );
        let guard = SecretGuard::Required(secret);
        assert!(!guard.admits(None));
        assert!(guard.admits(Some(b"correct horse battery")));
        assert!(SecretGuard::Disabled.admits(None));
        assert_eq!(format!("{guard:?}"), "Required(SkillSecret(redacted))");
    }
}
