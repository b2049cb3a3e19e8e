//! A Spotify Web API client for encore's ingest: a client-credentials token shared by all
//! calls, artist search and resolution, artist, top tracks, batched audio features and
//! artist albums, converted into encore's domain types.
//!
//! Resilient: timeouts, `Retry-After` on 429, backoff with jitter on 5xx and connection
//! errors, one token refresh on 401. Development Mode aware: refused endpoints (top
//! tracks, audio features) are replaced by a track search and ReccoBeats (the feature
//! fallback, [`FeatureChain`]), logged once. The same client talks to Spotify or to the
//! stand-in (`encore-standin`), which also plays ReccoBeats: only the base URLs differ.

mod client;
mod config;
pub mod deadline;
mod error;
mod features;
mod reccobeats;
mod resolve;
mod transport;
mod wire;

pub use client::{
    ArtistTracks, FoundTrack, RefusedEndpoint, SpotifyClient, TrackPage, AUDIO_FEATURES_BATCH,
    FALLBACK_SEARCH_PAGES, MAX_ALBUM_PAGES,
};
pub use config::{
    ClientSecret, FeatureSettings, FeaturesFallback, RetryPolicy, SpotifyConfig, SpotifyMode,
    DEFAULT_MARKET, PAGE_LIMIT, SEARCH_MAX_OFFSET, SPOTIFY_ACCOUNTS_BASE, SPOTIFY_API_BASE,
};
pub use encore_domain::release::{
    latest_releases, AlbumType, DatePrecision, Release, ReleaseDate, ReleaseDateError,
};
pub use error::SpotifyError;
pub use features::{AudioFeatureSource, ChainedFeatures, FeatureChain};
pub use reccobeats::{
    ReccoBeatsClient, ReccoBeatsConfig, RECCOBEATS_BASE, RECCOBEATS_BATCH,
    RECCOBEATS_FEATURES_PATH, SPOTIFY_TRACK_LINK,
};
pub use resolve::{choose_artist, search_keywords, MatchReason, Resolved};
