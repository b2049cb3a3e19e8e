//! How to reach Spotify (or the stand-in) and how hard to try.

use std::time::Duration;

use crate::reccobeats::ReccoBeatsConfig;

/// Spotify's accounts service, where tokens come from.
pub const SPOTIFY_ACCOUNTS_BASE: &str = "https://accounts.spotify.com";
/// Spotify's Web API.
pub const SPOTIFY_API_BASE: &str = "https://api.spotify.com/v1";
/// The market asked for when none is configured (the chatbot's users are in Korea).
pub const DEFAULT_MARKET: &str = "KR";
/// The page size used for search and artist albums: the Development Mode maximum, which
/// Extended Quota Mode accepts too, so one setting works for every app.
pub const PAGE_LIMIT: u32 = 10;
/// The largest `offset` Spotify's search accepts (its reference: "Range: 0 - 1000"), so the
/// deepest result a search reaches is about the 1,010th.
pub const SEARCH_MAX_OFFSET: u32 = 1000;

/// The quota mode of the Spotify app. Apps created since February 2026 start in
/// Development Mode, which refuses top tracks and audio features.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SpotifyMode {
    /// Development Mode: the refused endpoints are not tried.
    Development,
    /// Extended Quota Mode (or unknown: a refusal is still detected on the first 403).
    #[default]
    Extended,
}

impl SpotifyMode {
    /// The label used in configuration (`development`, `extended`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Extended => "extended",
        }
    }
}

impl std::str::FromStr for SpotifyMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "development" => Ok(Self::Development),
            "extended" => Ok(Self::Extended),
            other => Err(format!("{other:?} is not development or extended")),
        }
    }
}

/// Where audio features come from when Spotify refuses or lacks them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FeaturesFallback {
    /// ReccoBeats (free, keyless).
    #[default]
    Reccobeats,
    /// Nowhere: those tracks keep their features missing.
    None,
}

impl std::str::FromStr for FeaturesFallback {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "reccobeats" => Ok(Self::Reccobeats),
            "none" => Ok(Self::None),
            other => Err(format!("{other:?} is not reccobeats or none")),
        }
    }
}

/// The app's mode and where features come from when Spotify refuses or lacks them
/// (`ENCORE_SPOTIFY_MODE`, `ENCORE_FEATURES_FALLBACK`, `ENCORE_RECCOBEATS_URL`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeatureSettings {
    pub mode: SpotifyMode,
    pub fallback: FeaturesFallback,
    /// ReccoBeats' base URL; `None`: ReccoBeats itself (or, embedded, its stand-in).
    pub reccobeats_base: Option<String>,
}

/// A client secret. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the token request only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// Retries: how many attempts per call, how backoff grows, and how long a `Retry-After`
/// may be before the client gives up instead of waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included (a 401 token refresh is not counted).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubled for each further one, with jitter.
    pub base_delay: Duration,
    /// Longest backoff between two attempts.
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured by sleeping; a longer one is returned as
    /// [`crate::SpotifyError::RateLimited`].
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

/// Everything the client needs. `Debug` redacts the secret.
#[derive(Debug, Clone)]
pub struct SpotifyConfig {
    /// Base of the token endpoint (`{accounts_base}/api/token`), without a trailing slash.
    pub accounts_base: String,
    /// Base of the Web API (`{api_base}/search`, …), without a trailing slash.
    pub api_base: String,
    pub client_id: String,
    pub client_secret: ClientSecret,
    /// ISO 3166-1 alpha-2 market for top tracks and searches.
    pub market: String,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    /// Where features come from when Spotify refuses or lacks them; `None`: nowhere.
    pub features_fallback: Option<ReccoBeatsConfig>,
    /// The app is known to be in Development Mode: the endpoints it is refused are not
    /// tried at all (otherwise the first 403 teaches the client the same).
    pub development_mode: bool,
}

impl SpotifyConfig {
    /// Configuration for Spotify itself, with the default market, timeouts and retries.
    pub fn new(client_id: impl Into<String>, client_secret: ClientSecret) -> Self {
        Self {
            accounts_base: SPOTIFY_ACCOUNTS_BASE.into(),
            api_base: SPOTIFY_API_BASE.into(),
            client_id: client_id.into(),
            client_secret,
            market: DEFAULT_MARKET.into(),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            features_fallback: None,
            development_mode: false,
        }
    }

    /// The same, with the app's mode and feature fallback as configured.
    pub fn with_features(mut self, features: &FeatureSettings) -> Self {
        self.development_mode = features.mode == SpotifyMode::Development;
        self.features_fallback = match features.fallback {
            FeaturesFallback::Reccobeats => Some(
                features
                    .reccobeats_base
                    .clone()
                    .map(ReccoBeatsConfig::new)
                    .unwrap_or_default(),
            ),
            FeaturesFallback::None => None,
        };
        self
    }

    /// The same, with features Spotify refuses or lacks asked of ReccoBeats.
    pub fn with_features_fallback(mut self, fallback: ReccoBeatsConfig) -> Self {
        self.features_fallback = Some(fallback);
        self
    }

    /// The same, pointed at other base URLs (the stand-in: `accounts_base` = its base URL,
    /// `api_base` = its base URL + `/v1`).
    pub fn with_base_urls(
        mut self,
        accounts_base: impl Into<String>,
        api_base: impl Into<String>,
    ) -> Self {
        self.accounts_base = accounts_base.into().trim_end_matches('/').to_owned();
        self.api_base = api_base.into().trim_end_matches('/').to_owned();
        self
    }
}
