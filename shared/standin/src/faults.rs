//! Fault injection and call counting: the switches tests flip to make the stand-in behave
//! like Spotify on a bad day, readable and writable while the server runs.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Search `limit` bounds (maximum, default) in Development Mode.
pub const DEV_MODE_SEARCH_LIMIT: (u32, u32) = (10, 5);
/// Search `limit` bounds (maximum, default) in Extended Quota Mode.
pub const EXTENDED_SEARCH_LIMIT: (u32, u32) = (50, 20);
/// Artist-albums `limit` bounds (maximum, default) in Development Mode.
pub const DEV_MODE_ALBUMS_LIMIT: (u32, u32) = (10, 10);
/// Artist-albums `limit` bounds (maximum, default) in Extended Quota Mode.
pub const EXTENDED_ALBUMS_LIMIT: (u32, u32) = (50, 20);

/// The initial fault settings of a stand-in. The default is a healthy server in Extended
/// Quota Mode whose tokens live an hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Faults {
    /// Added before every answer (token calls included).
    pub latency: Duration,
    /// The next this-many API calls answer 429.
    pub rate_limit_burst: u32,
    /// The `Retry-After` of those 429s, in seconds.
    pub retry_after_secs: u64,
    /// Whether those 429s carry `reason: QUOTA_EXCEEDED` (quota exhausted, not a burst).
    pub quota_exceeded: bool,
    /// Every k-th API call answers 500 (0 = never). Deterministic, so tests can count.
    pub server_error_every: u32,
    /// Spotify's Development Mode: top tracks and audio features refused with 403,
    /// popularity and followers stripped, search limit at most 10.
    pub dev_mode: bool,
    /// How long an access token is valid.
    pub token_ttl: Duration,
    /// The next this-many ReccoBeats calls answer 429 (with `retry_after_secs`, like the
    /// Spotify burst's).
    pub reccobeats_rate_limit_burst: u32,
    /// ReccoBeats is down: every ReccoBeats call answers 503.
    pub reccobeats_outage: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            rate_limit_burst: 0,
            retry_after_secs: 1,
            quota_exceeded: false,
            server_error_every: 0,
            dev_mode: false,
            token_ttl: Duration::from_secs(3600),
            reccobeats_rate_limit_burst: 0,
            reccobeats_outage: false,
        }
    }
}

/// The endpoints the stand-in serves, for per-endpoint call counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    Token,
    Search,
    Artist,
    TopTracks,
    AudioFeatures,
    ArtistAlbums,
    /// ReccoBeats' `GET /v1/audio-features`, under `/reccobeats`.
    ReccoBeatsFeatures,
    /// Any path the stand-in does not serve.
    Other,
}

impl Endpoint {
    /// Every endpoint, in a fixed order.
    pub const ALL: [Endpoint; 8] = [
        Endpoint::Token,
        Endpoint::Search,
        Endpoint::Artist,
        Endpoint::TopTracks,
        Endpoint::AudioFeatures,
        Endpoint::ArtistAlbums,
        Endpoint::ReccoBeatsFeatures,
        Endpoint::Other,
    ];

    /// The endpoint a request path belongs to.
    pub fn of_path(path: &str) -> Self {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        match parts.as_slice() {
            ["api", "token"] => Self::Token,
            ["v1", "search"] => Self::Search,
            ["v1", "audio-features"] => Self::AudioFeatures,
            ["v1", "artists", _] => Self::Artist,
            ["v1", "artists", _, "top-tracks"] => Self::TopTracks,
            ["v1", "artists", _, "albums"] => Self::ArtistAlbums,
            ["reccobeats", "v1", "audio-features"] => Self::ReccoBeatsFeatures,
            _ => Self::Other,
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// What a fault check decided for one API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Injected {
    /// Answer 429 with this `Retry-After`; `quota` adds `reason: QUOTA_EXCEEDED`.
    RateLimited { retry_after_secs: u64, quota: bool },
    /// Answer 500.
    ServerError,
}

/// The live fault switches and counters, shared by the server and its handle.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    latency_ms: AtomicU64,
    rate_limit_burst: AtomicU32,
    retry_after_secs: AtomicU64,
    quota_exceeded: AtomicBool,
    server_error_every: AtomicU32,
    dev_mode: AtomicBool,
    token_ttl_ms: AtomicU64,
    reccobeats_rate_limit_burst: AtomicU32,
    reccobeats_retry_after_secs: AtomicU64,
    reccobeats_outage: AtomicBool,
    api_calls: AtomicU64,
    calls: [AtomicU64; Endpoint::ALL.len()],
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl FaultState {
    pub(crate) fn new(faults: &Faults) -> Self {
        let state = Self::default();
        state.set_latency(faults.latency);
        state.set_rate_limit_burst(
            faults.rate_limit_burst,
            faults.retry_after_secs,
            faults.quota_exceeded,
        );
        state.set_server_error_every(faults.server_error_every);
        state.set_dev_mode(faults.dev_mode);
        state.set_token_ttl(faults.token_ttl);
        state.set_reccobeats_rate_limit_burst(
            faults.reccobeats_rate_limit_burst,
            faults.retry_after_secs,
        );
        state.set_reccobeats_outage(faults.reccobeats_outage);
        state
    }

    pub(crate) fn set_reccobeats_rate_limit_burst(&self, calls: u32, retry_after_secs: u64) {
        self.reccobeats_retry_after_secs
            .store(retry_after_secs, Ordering::Relaxed);
        self.reccobeats_rate_limit_burst
            .store(calls, Ordering::SeqCst);
    }

    pub(crate) fn set_reccobeats_outage(&self, on: bool) {
        self.reccobeats_outage.store(on, Ordering::Relaxed);
    }

    /// Decides whether this ReccoBeats call is answered by a fault: the outage, then a
    /// pending 429 burst.
    pub(crate) fn inject_reccobeats(&self) -> Option<Injected> {
        if self.reccobeats_outage.load(Ordering::Relaxed) {
            return Some(Injected::ServerError);
        }
        self.reccobeats_rate_limit_burst
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
            .then(|| Injected::RateLimited {
                retry_after_secs: self.reccobeats_retry_after_secs.load(Ordering::Relaxed),
                quota: false,
            })
    }

    pub(crate) fn set_latency(&self, latency: Duration) {
        self.latency_ms.store(millis(latency), Ordering::Relaxed);
    }

    pub(crate) fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Ordering::Relaxed))
    }

    pub(crate) fn set_rate_limit_burst(
        &self,
        calls: u32,
        retry_after_secs: u64,
        quota_exceeded: bool,
    ) {
        self.retry_after_secs
            .store(retry_after_secs, Ordering::Relaxed);
        self.quota_exceeded.store(quota_exceeded, Ordering::Relaxed);
        self.rate_limit_burst.store(calls, Ordering::SeqCst);
    }

    pub(crate) fn set_server_error_every(&self, k: u32) {
        self.server_error_every.store(k, Ordering::Relaxed);
    }

    pub(crate) fn set_dev_mode(&self, on: bool) {
        self.dev_mode.store(on, Ordering::Relaxed);
    }

    pub(crate) fn dev_mode(&self) -> bool {
        self.dev_mode.load(Ordering::Relaxed)
    }

    pub(crate) fn set_token_ttl(&self, ttl: Duration) {
        self.token_ttl_ms.store(millis(ttl), Ordering::Relaxed);
    }

    pub(crate) fn token_ttl(&self) -> Duration {
        Duration::from_millis(self.token_ttl_ms.load(Ordering::Relaxed))
    }

    pub(crate) fn count(&self, endpoint: Endpoint) {
        self.calls[endpoint.slot()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn calls(&self, endpoint: Endpoint) -> u64 {
        self.calls[endpoint.slot()].load(Ordering::Relaxed)
    }

    /// Decides whether this API call is answered by a fault: first a pending 429 burst,
    /// then the periodic 5xx.
    pub(crate) fn inject(&self) -> Option<Injected> {
        let burst = self
            .rate_limit_burst
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if burst.is_ok() {
            return Some(Injected::RateLimited {
                retry_after_secs: self.retry_after_secs.load(Ordering::Relaxed),
                quota: self.quota_exceeded.load(Ordering::Relaxed),
            });
        }
        let seq = self.api_calls.fetch_add(1, Ordering::SeqCst) + 1;
        let every = u64::from(self.server_error_every.load(Ordering::Relaxed));
        (seq.checked_rem(every) == Some(0)).then_some(Injected::ServerError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        assert_eq!(Endpoint::of_path("/api/token"), Endpoint::Token);
        assert_eq!(Endpoint::of_path("/v1/artists/abc"), Endpoint::Artist);
        assert_eq!(
            Endpoint::of_path("/v1/artists/abc/top-tracks"),
            Endpoint::TopTracks
        );
        assert_eq!(
            Endpoint::of_path("/v1/artists/abc/albums"),
            Endpoint::ArtistAlbums
        );
        assert_eq!(
            Endpoint::of_path("/v1/audio-features"),
            Endpoint::AudioFeatures
        );
        assert_eq!(
            Endpoint::of_path("/reccobeats/v1/audio-features"),
            Endpoint::ReccoBeatsFeatures
        );
        assert_eq!(Endpoint::of_path("/v1/nothing"), Endpoint::Other);
    }

    #[test]
    fn burst_then_periodic_errors() {
        let state = FaultState::new(&Faults {
            rate_limit_burst: 2,
            server_error_every: 3,
            ..Faults::default()
        });
        let seen: Vec<Option<Injected>> = (0..6).map(|_| state.inject()).collect();
        let limited = Some(Injected::RateLimited {
            retry_after_secs: 1,
            quota: false,
        });
        assert_eq!(
            seen,
            vec![
                limited,
                limited,
                None,
                None,
                Some(Injected::ServerError),
                None
            ]
        );
    }
}
