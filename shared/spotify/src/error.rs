//! What can go wrong talking to Spotify, in the terms callers act on.

use std::time::Duration;

/// A failed Spotify operation. `endpoint` is the request path (never the query string or
/// a credential).
#[derive(Debug, thiserror::Error)]
pub enum SpotifyError {
    /// Nothing matches: an unknown id, or a query no artist answers to. A clean outcome,
    /// not a failure of the service.
    #[error("not found on Spotify: {what}")]
    NotFound { what: String },
    /// The endpoint is refused to this app (Development Mode: 403, or 404 for removed
    /// endpoints). Waiting will not help; callers fall back.
    #[error("{endpoint} is not available to this app (HTTP {status})")]
    Unavailable { endpoint: String, status: u16 },
    /// Rate limited for longer than the client is willing to wait.
    #[error("rate limited on {endpoint}: retry after {retry_after:?}")]
    RateLimited {
        endpoint: String,
        retry_after: Duration,
    },
    /// Waiting before the next attempt (a `Retry-After` or the backoff) would pass the
    /// deadline of the caller's scope ([`crate::deadline`]): given up, to be tried again
    /// by a later delivery.
    #[error(
        "{endpoint}: waiting {wait:?} to retry ({cause}) would pass the deadline ({left:?} left)"
    )]
    Deadline {
        endpoint: String,
        wait: Duration,
        left: Duration,
        cause: String,
    },
    /// The app's (or developer account's) quota is used up (`reason: QUOTA_EXCEEDED`).
    #[error("Spotify quota exceeded on {endpoint}")]
    QuotaExceeded { endpoint: String },
    /// The client credentials were rejected, or a fresh token was refused.
    #[error("Spotify rejected the client credentials: {message}")]
    Unauthorized { message: String },
    /// Any other non-success answer (after retries, for 5xx).
    #[error("Spotify answered {status} on {endpoint}: {message}")]
    Http {
        endpoint: String,
        status: u16,
        message: String,
    },
    /// The request did not complete (connection, timeout), after retries.
    #[error("cannot reach Spotify on {endpoint}: {source}")]
    Transport {
        endpoint: String,
        source: reqwest::Error,
    },
    /// The answer was not the JSON Spotify documents.
    #[error("unexpected answer from {endpoint}: {source}")]
    Decode {
        endpoint: String,
        source: serde_json::Error,
    },
    /// The configuration cannot work (a base URL that is not a URL).
    #[error("invalid Spotify client configuration: {reason}")]
    Config { reason: String },
    /// An id that is not a 22-character base62 Spotify id was passed in.
    #[error("{id:?} is not a Spotify id")]
    InvalidId { id: String },
}

impl SpotifyError {
    /// True for [`SpotifyError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// True when trying again later may succeed (rate limits, 5xx, transport errors):
    /// an ingest message failing this way should be redelivered, not dead-lettered.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. }
            | Self::QuotaExceeded { .. }
            | Self::Transport { .. }
            | Self::Deadline { .. } => true,
            Self::Http { status, .. } => *status >= 500,
            _ => false,
        }
    }
}
