//! What can go wrong when a handler calls a backend (a database, a queue, the bus), in the
//! terms handlers act on: retry later, give up, a duplicate, or data that cannot be read.
//! Storage (`encore-store`) and messaging (`encore-messaging`) share this one error, so a
//! handler classifies every failure the same way; each vendor's translation is a feature.
//!
//! Every variant keeps the vendor's error as its [`source`](std::error::Error::source), so a
//! caller can downcast it, and a reason that already names the operation and the vendor's
//! message, so a log line of the error alone is enough.

#[cfg(feature = "aws")]
mod aws;
#[cfg(any(feature = "mysql", feature = "sqlite"))]
mod sql;

#[cfg(feature = "aws")]
pub use aws::{aws_call, from_sdk};

/// The underlying error a [`BackendError`] was made from.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A backend failure. Adapters translate vendor errors into these variants.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The backend could not be reached, timed out or asked to slow down: worth retrying
    /// later.
    #[error("unavailable: {reason}")]
    Unavailable {
        /// What was being done, and what the backend said.
        reason: String,
        /// The vendor's error, when there was one.
        #[source]
        source: Option<Cause>,
    },
    /// The backend refused the operation (bad schema, permissions, a limit): retrying the
    /// same call will not help.
    #[error("rejected: {reason}")]
    Rejected {
        /// What was being done, and what the backend said.
        reason: String,
        /// The vendor's error, when there was one.
        #[source]
        source: Option<Cause>,
    },
    /// A unique key already holds another row: retrying the same write will not help, but
    /// a caller that expected the row may treat it as done.
    #[error("duplicate key: {reason}")]
    Duplicate {
        /// What was being done, and what the backend said.
        reason: String,
        /// The vendor's error, when there was one.
        #[source]
        source: Option<Cause>,
    },
    /// Stored data could not be decoded into domain types.
    #[error("stored data is corrupt: {reason}")]
    Corrupt {
        /// What was being read, and why it does not decode.
        reason: String,
        /// The decoding error, when there was one.
        #[source]
        source: Option<Cause>,
    },
}

impl BackendError {
    /// A failure worth retrying, with no vendor error behind it.
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self::Unavailable {
            reason: reason.into(),
            source: None,
        }
    }

    /// A refusal, with no vendor error behind it.
    pub fn rejected(reason: impl Into<String>) -> Self {
        Self::Rejected {
            reason: reason.into(),
            source: None,
        }
    }

    /// A unique-key violation, with no vendor error behind it.
    pub fn duplicate(reason: impl Into<String>) -> Self {
        Self::Duplicate {
            reason: reason.into(),
            source: None,
        }
    }

    /// Undecodable stored data, with no vendor error behind it.
    pub fn corrupt(reason: impl Into<String>) -> Self {
        Self::Corrupt {
            reason: reason.into(),
            source: None,
        }
    }

    /// The same failure with `cause` kept as its source.
    pub fn caused_by(
        mut self,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        *self.source_mut() = Some(cause.into());
        self
    }

    /// The same failure, its reason prefixed with what was being done (`context: reason`).
    pub fn context(mut self, context: &str) -> Self {
        let reason = self.reason_mut();
        *reason = format!("{context}: {reason}");
        self
    }

    /// What was being done, and what the backend said (the message without the kind).
    pub fn reason(&self) -> &str {
        match self {
            Self::Unavailable { reason, .. }
            | Self::Rejected { reason, .. }
            | Self::Duplicate { reason, .. }
            | Self::Corrupt { reason, .. } => reason,
        }
    }

    /// True when retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    fn reason_mut(&mut self) -> &mut String {
        match self {
            Self::Unavailable { reason, .. }
            | Self::Rejected { reason, .. }
            | Self::Duplicate { reason, .. }
            | Self::Corrupt { reason, .. } => reason,
        }
    }

    fn source_mut(&mut self) -> &mut Option<Cause> {
        match self {
            Self::Unavailable { source, .. }
            | Self::Rejected { source, .. }
            | Self::Duplicate { source, .. }
            | Self::Corrupt { source, .. } => source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn context_prefixes_the_reason_and_keeps_kind_and_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out");
        let err = BackendError::unavailable("timed out")
            .caused_by(io)
            .context("upsert artist");
        assert!(err.is_transient());
        assert_eq!(err.reason(), "upsert artist: timed out");
        assert_eq!(err.to_string(), "unavailable: upsert artist: timed out");
        let cause = err.source().expect("the cause is kept");
        assert!(cause.downcast_ref::<std::io::Error>().is_some());
    }

    #[test]
    fn only_unavailable_is_transient() {
        assert!(!BackendError::rejected("no").is_transient());
        assert!(!BackendError::duplicate("twice").is_transient());
        assert!(!BackendError::corrupt("bad").is_transient());
        assert!(BackendError::corrupt("bad").source().is_none());
    }
}
