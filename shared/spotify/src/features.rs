//! The feature-source port, "audio features of these Spotify track ids", its two adapters
//! (Spotify, ReccoBeats) and the chain ingest uses: Spotify first, ReccoBeats for what
//! Spotify refused or left out.

use std::collections::HashSet;
use std::future::Future;

use encore_domain::{AudioFeatures, FeatureSource};

use crate::client::{RefusedEndpoint, SpotifyClient};
use crate::error::SpotifyError;
use crate::reccobeats::ReccoBeatsClient;

/// A service that measures tracks by their Spotify ids.
pub trait AudioFeatureSource: Send + Sync {
    /// Which service this is (recorded with every feature it returns).
    fn source(&self) -> FeatureSource;

    /// The features it has for `track_ids`, in their order; tracks it has none for are
    /// left out. [`SpotifyError::Unavailable`] when the service refuses this app.
    fn features_of(
        &self,
        track_ids: &[String],
    ) -> impl Future<Output = Result<Vec<AudioFeatures>, SpotifyError>> + Send;
}

impl AudioFeatureSource for SpotifyClient {
    fn source(&self) -> FeatureSource {
        FeatureSource::Spotify
    }

    async fn features_of(&self, track_ids: &[String]) -> Result<Vec<AudioFeatures>, SpotifyError> {
        Ok(self
            .audio_features(track_ids)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }
}

impl AudioFeatureSource for ReccoBeatsClient {
    fn source(&self) -> FeatureSource {
        FeatureSource::Reccobeats
    }

    async fn features_of(&self, track_ids: &[String]) -> Result<Vec<AudioFeatures>, SpotifyError> {
        self.audio_features(track_ids).await
    }
}

/// What the chain found for a list of tracks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChainedFeatures {
    /// The features found, in the order of the ids asked, each with its source.
    pub features: Vec<AudioFeatures>,
    /// Spotify refuses audio features to this app (now, or learned earlier).
    pub spotify_refused: bool,
    /// The fallback failed (outage, timeouts, rate limits past the retry budget): the
    /// tracks it was asked for are left without features, for a later refresh.
    pub fallback_failed: Option<String>,
}

/// Spotify first, then the fallback (ReccoBeats) for every track Spotify refused or left
/// out. Once Spotify refused the endpoint (Development Mode) it is not asked again.
#[derive(Debug, Clone, Copy)]
pub struct FeatureChain<'a, F> {
    spotify: &'a SpotifyClient,
    fallback: Option<&'a F>,
}

impl<'a, F: AudioFeatureSource> FeatureChain<'a, F> {
    /// The chain over `spotify`, with `fallback` when one is configured.
    pub fn new(spotify: &'a SpotifyClient, fallback: Option<&'a F>) -> Self {
        Self { spotify, fallback }
    }

    /// The features of `track_ids`. Fails only when Spotify fails in a way other than a
    /// refusal (a rate limit or outage of Spotify itself fails the ingest as before); a
    /// failing fallback never does.
    pub async fn features(&self, track_ids: &[String]) -> Result<ChainedFeatures, SpotifyError> {
        let mut outcome = ChainedFeatures::default();
        if track_ids.is_empty() {
            return Ok(outcome);
        }
        if self.spotify.is_refused(RefusedEndpoint::AudioFeatures) {
            outcome.spotify_refused = true;
        } else {
            match self.spotify.features_of(track_ids).await {
                Ok(found) => outcome.features = found,
                Err(SpotifyError::Unavailable { status, .. }) => {
                    self.spotify
                        .mark_refused(RefusedEndpoint::AudioFeatures, status);
                    outcome.spotify_refused = true;
                }
                Err(e) => return Err(e),
            }
        }
        let Some(fallback) = self.fallback else {
            return Ok(outcome);
        };
        let have: HashSet<&str> = outcome
            .features
            .iter()
            .map(|f| f.track_id.as_str())
            .collect();
        let missing: Vec<String> = track_ids
            .iter()
            .filter(|id| !have.contains(id.as_str()))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(outcome);
        }
        match fallback.features_of(&missing).await {
            Ok(found) => {
                outcome.features.extend(found);
                let order: std::collections::HashMap<&str, usize> = track_ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| (id.as_str(), i))
                    .collect();
                outcome
                    .features
                    .sort_by_key(|f| order.get(f.track_id.as_str()).copied());
            }
            Err(e) => {
                tracing::warn!(
                    source = fallback.source().as_str(),
                    tracks = missing.len(),
                    reason = %e,
                    "feature fallback failed; the tracks keep their features missing until the next refresh"
                );
                outcome.fallback_failed = Some(e.to_string());
            }
        }
        Ok(outcome)
    }
}
