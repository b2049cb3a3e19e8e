//! The catalog port: what ingest asks of Spotify. The Spotify client (talking to Spotify
//! or to the stand-in) is the adapter; the handler only sees this trait.

use async_trait::async_trait;
use encore_domain::{Artist, AudioFeatures, Release, Track};

/// An artist's top tracks and the audio features the catalog had for them (tracks without
/// features have no entry).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ArtistTracks {
    pub tracks: Vec<Track>,
    pub features: Vec<AudioFeatures>,
}

/// Why the catalog could not answer; the client's own error stays as the source.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Worth retrying later (rate limit, 5xx, timeout, quota).
    #[error("catalog unavailable: {reason}")]
    Transient {
        /// What was asked, and what the catalog answered.
        reason: String,
        /// The client's error.
        #[source]
        source: Option<Cause>,
    },
    /// A call gave up because waiting to retry it would pass the caller's deadline: a
    /// later delivery, with a fresh deadline, tries again.
    #[error("catalog out of time: {reason}")]
    OutOfTime {
        /// What was asked, and what the wait was for.
        reason: String,
        /// The client's error.
        #[source]
        source: Option<Cause>,
    },
    /// Retrying will not help (credentials, a refused request).
    #[error("catalog refused: {reason}")]
    Permanent {
        /// What was asked, and what the catalog answered.
        reason: String,
        /// The client's error.
        #[source]
        source: Option<Cause>,
    },
}

/// The client error a [`CatalogError`] was made from.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What the catalog's client has done so far (monotonic counters), for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CatalogUsage {
    /// HTTP requests sent (token requests and retries included).
    pub calls: u64,
    /// Answers 429 (rate limited).
    pub rate_limited: u64,
    /// Answers served through a fallback (Development Mode).
    pub fallbacks: u64,
    /// HTTP requests sent to the feature fallback (ReccoBeats), retries included; not
    /// part of `calls`.
    pub feature_fallback_calls: u64,
}

impl CatalogUsage {
    /// What happened between `earlier` and `self`.
    pub fn since(self, earlier: Self) -> Self {
        Self {
            calls: self.calls.saturating_sub(earlier.calls),
            rate_limited: self.rate_limited.saturating_sub(earlier.rate_limited),
            fallbacks: self.fallbacks.saturating_sub(earlier.fallbacks),
            feature_fallback_calls: self
                .feature_fallback_calls
                .saturating_sub(earlier.feature_fallback_calls),
        }
    }
}

/// The music catalog ingest reads from.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// The artist a user's query means, or `None` when the catalog knows no such artist.
    async fn resolve(&self, query: &str) -> Result<Option<Artist>, CatalogError>;
    /// The artist's top tracks (ranked from 1) with their audio features.
    async fn top_tracks(&self, artist: &Artist) -> Result<ArtistTracks, CatalogError>;
    /// The artist's own `n` newest albums and singles, newest first (no compilations, no
    /// appearances on other artists' releases).
    async fn latest_releases(
        &self,
        artist: &Artist,
        n: usize,
    ) -> Result<Vec<Release>, CatalogError>;
    /// The client's counters so far; a catalog that keeps none reports zeros.
    fn usage(&self) -> CatalogUsage {
        CatalogUsage::default()
    }
}
