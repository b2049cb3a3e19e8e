//! The catalog adapter over the Spotify client (Spotify itself or the stand-in).

use async_trait::async_trait;
use encore_domain::{Artist, Release};
use encore_spotify::{SpotifyClient, SpotifyError};

use crate::catalog::{ArtistTracks, Catalog, CatalogError, CatalogUsage, Cause};

/// [`Catalog`] backed by the Spotify Web API.
#[derive(Debug, Clone)]
pub struct SpotifyCatalog {
    client: SpotifyClient,
}

impl SpotifyCatalog {
    /// Wraps a configured client.
    pub fn new(client: SpotifyClient) -> Self {
        Self { client }
    }

    /// The client, for its call counters.
    pub fn client(&self) -> &SpotifyClient {
        &self.client
    }
}

fn classify(err: SpotifyError) -> CatalogError {
    let (deadline, transient) = (
        matches!(err, SpotifyError::Deadline { .. }),
        err.is_transient(),
    );
    let reason = err.to_string();
    let source: Option<Cause> = Some(Box::new(err));
    match (deadline, transient) {
        (true, _) => CatalogError::OutOfTime { reason, source },
        (false, true) => CatalogError::Transient { reason, source },
        (false, false) => CatalogError::Permanent { reason, source },
    }
}

#[async_trait]
impl Catalog for SpotifyCatalog {
    async fn resolve(&self, query: &str) -> Result<Option<Artist>, CatalogError> {
        match self.client.resolve_artist(query).await {
            Ok(resolved) => Ok(Some(resolved.artist)),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(classify(err)),
        }
    }

    async fn top_tracks(&self, artist: &Artist) -> Result<ArtistTracks, CatalogError> {
        let found = self
            .client
            .top_tracks_with_features(artist)
            .await
            .map_err(classify)?;
        Ok(ArtistTracks {
            tracks: found.tracks,
            features: found.features,
        })
    }

    async fn latest_releases(
        &self,
        artist: &Artist,
        n: usize,
    ) -> Result<Vec<Release>, CatalogError> {
        self.client
            .latest_releases(artist.id.as_str(), n)
            .await
            .map_err(classify)
    }

    fn usage(&self) -> CatalogUsage {
        CatalogUsage {
            calls: self.client.calls(),
            rate_limited: self.client.rate_limited(),
            fallbacks: self.client.fallbacks(),
            feature_fallback_calls: self
                .client
                .features_fallback()
                .map_or(0, |fallback| fallback.calls()),
        }
    }
}
