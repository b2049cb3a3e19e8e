//! The client: one token shared by every call, retries with backoff ([`crate::transport`]),
//! the calls ingest makes ([`endpoints`]) and the Development Mode fallbacks
//! ([`development`]).

mod development;
mod endpoints;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use reqwest::Url;

use crate::config::SpotifyConfig;
use crate::error::SpotifyError;
use crate::features::FeatureChain;
use crate::reccobeats::ReccoBeatsClient;
use crate::transport::{Tokens, Transport};

pub use development::{ArtistTracks, RefusedEndpoint, FALLBACK_SEARCH_PAGES};
pub use endpoints::{FoundTrack, TrackPage, AUDIO_FEATURES_BATCH, MAX_ALBUM_PAGES};

/// A Spotify Web API client with the client-credentials flow. Cheap to clone: clones
/// share the token, the call counters and what was learned about refused endpoints.
#[derive(Clone)]
pub struct SpotifyClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    config: SpotifyConfig,
    tokens: Tokens,
    /// Top-tracks answers served through a Development Mode fallback.
    fallbacks: AtomicU64,
    /// Endpoints seen refused; a process builds one client, so "logged once per client"
    /// is logged once per process.
    refused: [AtomicBool; 2],
    /// Where features Spotify refuses or lacks come from, when configured.
    reccobeats: Option<ReccoBeatsClient>,
}

impl std::fmt::Debug for SpotifyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpotifyClient")
            .field("config", &self.inner.config)
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}

impl SpotifyClient {
    /// A client for `config`; fails only when a base URL is not a URL or the HTTP client
    /// cannot be built.
    pub fn new(config: SpotifyConfig) -> Result<Self, SpotifyError> {
        let token_url = Url::parse(&format!(
            "{}/api/token",
            config.accounts_base.trim_end_matches('/')
        ))
        .map_err(|e| SpotifyError::Config {
            reason: format!("accounts base: {e}"),
        })?;
        Url::parse(&config.api_base).map_err(|e| SpotifyError::Config {
            reason: format!("api base: {e}"),
        })?;
        let transport = Transport::new(
            config.request_timeout,
            config.connect_timeout,
            None,
            config.retry.clone(),
        )?;
        let reccobeats = config
            .features_fallback
            .clone()
            .map(ReccoBeatsClient::new)
            .transpose()?;
        let tokens = Tokens::new(
            token_url,
            config.client_id.clone(),
            config.client_secret.clone(),
        );
        let development = config.development_mode;
        let client = Self {
            inner: Arc::new(Inner {
                transport,
                config,
                tokens,
                fallbacks: AtomicU64::new(0),
                refused: [AtomicBool::new(false), AtomicBool::new(false)],
                reccobeats,
            }),
        };
        if development {
            tracing::info!("Spotify app in Development Mode: top tracks come from track search, features from the fallback");
            for endpoint in [RefusedEndpoint::TopTracks, RefusedEndpoint::AudioFeatures] {
                client.inner.refused[endpoint.slot()].store(true, Ordering::Relaxed);
            }
        }
        Ok(client)
    }

    /// The ReccoBeats client features fall back to, when one is configured.
    pub fn features_fallback(&self) -> Option<&ReccoBeatsClient> {
        self.inner.reccobeats.as_ref()
    }

    /// The feature chain: this client first, then the configured fallback.
    pub fn feature_chain(&self) -> FeatureChain<'_, ReccoBeatsClient> {
        FeatureChain::new(self, self.inner.reccobeats.as_ref())
    }

    /// The market asked for.
    pub fn market(&self) -> &str {
        &self.inner.config.market
    }

    /// HTTP requests sent so far (token requests and retries included).
    pub fn calls(&self) -> u64 {
        self.inner.transport.calls()
    }

    /// Token requests sent so far.
    pub fn token_calls(&self) -> u64 {
        self.inner.tokens.calls()
    }

    /// Answers 429 (rate limited) received so far.
    pub fn rate_limited(&self) -> u64 {
        self.inner.transport.rate_limited()
    }

    /// Top-tracks answers so far that used a Development Mode fallback.
    pub fn fallbacks(&self) -> u64 {
        self.inner.fallbacks.load(Ordering::Relaxed)
    }

    /// The endpoints found refused so far (and skipped from then on).
    pub fn refused_endpoints(&self) -> Vec<RefusedEndpoint> {
        [RefusedEndpoint::TopTracks, RefusedEndpoint::AudioFeatures]
            .into_iter()
            .filter(|e| self.is_refused(*e))
            .collect()
    }
}
