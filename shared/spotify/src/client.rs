//! The client: one token shared by every call, retries with backoff, and the calls ingest
//! makes, with the Development Mode fallbacks.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use encore_domain::{Artist, AudioFeatures, Track};
use rand::Rng;
use reqwest::header::RETRY_AFTER;
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use crate::config::{RetryPolicy, SpotifyConfig, PAGE_LIMIT, SEARCH_MAX_OFFSET};
use crate::error::SpotifyError;
use crate::features::FeatureChain;
use crate::reccobeats::ReccoBeatsClient;
use crate::resolve::{choose_artist, search_keywords, Resolved};
use crate::wire;
use encore_domain::release::{latest_releases, Release};

/// Most ids one audio-features call takes.
pub const AUDIO_FEATURES_BATCH: usize = 100;
/// Most top tracks an artist has (Spotify's top-tracks answer, and the fallback's cap).
pub const TOP_TRACKS: usize = 10;
/// Most search pages the top-tracks fallback reads: every page Spotify lets a search
/// reach ([`SEARCH_MAX_OFFSET`]). A short name (`MIKE`, `Smith`) shares its search with
/// every artist whose name contains it, so its own tracks can sit many pages down; a cap
/// of 10 pages left one artist of the data set with half its tracks, and through the
/// standardisation shifted 1.3 % of all neighbour lists. The search stops at the last page
/// or once [`TOP_TRACKS`] of the artist's own are found, so on the data set this costs
/// 1.033 search calls per artist instead of 1.024.
pub const FALLBACK_SEARCH_PAGES: u32 = SEARCH_MAX_OFFSET / PAGE_LIMIT + 1;
/// Most artist-albums pages read for one artist (at [`PAGE_LIMIT`] per page).
pub const MAX_ALBUM_PAGES: usize = 20;

/// An endpoint some apps are refused (Development Mode), which the client replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusedEndpoint {
    /// `GET /artists/{id}/top-tracks`, replaced by a track search for the artist.
    TopTracks,
    /// `GET /audio-features`, replaced by the feature fallback (ReccoBeats), or by
    /// "features missing" when none is configured.
    AudioFeatures,
}

impl RefusedEndpoint {
    /// A stable label for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TopTracks => "top-tracks",
            Self::AudioFeatures => "audio-features",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// An artist's top tracks and the audio features Spotify has for them.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtistTracks {
    /// Ranked 1..n (at most [`TOP_TRACKS`]).
    pub tracks: Vec<Track>,
    /// Features of the tracks that have them, each with its source (Spotify, or the
    /// fallback for what Spotify refused or left out).
    pub features: Vec<AudioFeatures>,
    /// The endpoints that were refused and replaced for this answer.
    pub degraded: Vec<RefusedEndpoint>,
}

/// A track found by search, with all its artists (the top-tracks fallback keeps the ones
/// whose artists include the wanted artist).
#[derive(Debug, Clone, PartialEq)]
pub struct FoundTrack {
    /// `artist_id` is the track's first artist; `rank` its 1-based position in the results.
    pub track: Track,
    pub artist_ids: Vec<String>,
}

/// One page of track search results.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackPage {
    pub tracks: Vec<FoundTrack>,
    /// True when Spotify has a further page.
    pub has_more: bool,
}

/// A Spotify Web API client with the client-credentials flow. Cheap to clone: clones
/// share the token, the call counters and what was learned about refused endpoints.
#[derive(Clone)]
pub struct SpotifyClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: SpotifyConfig,
    token_url: Url,
    token: Mutex<TokenSlot>,
    calls: AtomicU64,
    token_calls: AtomicU64,
    /// Answers 429 received.
    rate_limited: AtomicU64,
    /// Top-tracks answers served through a Development Mode fallback.
    fallbacks: AtomicU64,
    /// Endpoints seen refused; a process builds one client, so "logged once per client"
    /// is logged once per process.
    refused: [AtomicBool; 2],
    /// Where features Spotify refuses or lacks come from, when configured.
    reccobeats: Option<ReccoBeatsClient>,
}

/// The cached token and a generation number bumped on every refresh, so that of many
/// calls rejected with the same token only the first clears it.
#[derive(Default)]
struct TokenSlot {
    token: Option<CachedToken>,
    generation: u64,
}

struct CachedToken {
    value: String,
    refresh_at: Instant,
}

impl std::fmt::Debug for SpotifyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpotifyClient")
            .field("config", &self.inner.config)
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}

/// A non-success answer, classified.
pub(crate) enum Failure {
    /// 401: the token was rejected; refresh once and try again.
    Refresh(String),
    /// Worth another attempt, after `wait` (a `Retry-After`) or the backoff.
    Retry {
        error: SpotifyError,
        wait: Option<Duration>,
    },
    /// Final.
    Fatal(SpotifyError),
}

/// What one HTTP exchange returned.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) retry_after: Option<u64>,
    pub(crate) body: Vec<u8>,
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
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| SpotifyError::Config {
                reason: format!("HTTP client: {e}"),
            })?;
        let reccobeats = config
            .features_fallback
            .clone()
            .map(ReccoBeatsClient::new)
            .transpose()?;
        let development = config.development_mode;
        let client = Self {
            inner: Arc::new(Inner {
                http,
                config,
                token_url,
                token: Mutex::new(TokenSlot::default()),
                calls: AtomicU64::new(0),
                token_calls: AtomicU64::new(0),
                rate_limited: AtomicU64::new(0),
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
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// Token requests sent so far.
    pub fn token_calls(&self) -> u64 {
        self.inner.token_calls.load(Ordering::Relaxed)
    }

    /// Answers 429 (rate limited) received so far.
    pub fn rate_limited(&self) -> u64 {
        self.inner.rate_limited.load(Ordering::Relaxed)
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

    /// Artists matching `query`, in Spotify's order (first page, [`PAGE_LIMIT`] results).
    pub async fn search_artists(&self, query: &str) -> Result<Vec<Artist>, SpotifyError> {
        let limit = PAGE_LIMIT.to_string();
        let url = self.api_url(
            "/search",
            &[
                ("q", query),
                ("type", "artist"),
                ("market", self.market()),
                ("limit", &limit),
            ],
        )?;
        let answer: wire::ArtistSearch = self.get(url).await?;
        Ok(answer
            .artists
            .items
            .into_iter()
            .flatten()
            .map(Artist::from)
            .collect())
    }

    /// One page of tracks matching `query` (Spotify's syntax, e.g. `artist:"BTS"`),
    /// starting at `offset`.
    pub async fn search_tracks(&self, query: &str, offset: u32) -> Result<TrackPage, SpotifyError> {
        let (limit, offset_text) = (PAGE_LIMIT.to_string(), offset.to_string());
        let url = self.api_url(
            "/search",
            &[
                ("q", query),
                ("type", "track"),
                ("market", self.market()),
                ("limit", &limit),
                ("offset", &offset_text),
            ],
        )?;
        let answer: wire::TrackSearch = self.get(url).await?;
        let tracks = answer
            .tracks
            .items
            .into_iter()
            .flatten()
            .zip(offset + 1..)
            .map(|(t, rank)| {
                let artist_ids = t.artist_ids();
                let first = artist_ids.first().cloned().unwrap_or_default();
                FoundTrack {
                    track: t.into_track(&first, rank),
                    artist_ids,
                }
            })
            .collect();
        Ok(TrackPage {
            tracks,
            has_more: answer.tracks.next.is_some(),
        })
    }

    /// The artist with this id; [`SpotifyError::NotFound`] when Spotify has none.
    pub async fn artist(&self, id: &str) -> Result<Artist, SpotifyError> {
        let url = self.api_url(&format!("/artists/{}", checked_id(id)?), &[])?;
        match self.get::<wire::FullArtist>(url).await {
            Ok(artist) => Ok(artist.into()),
            Err(SpotifyError::Http { status: 404, .. }) => Err(SpotifyError::NotFound {
                what: format!("artist {id}"),
            }),
            Err(e) => Err(e),
        }
    }

    /// The artist's top tracks in the configured market, ranked 1..n. A 403 or 404 is
    /// [`SpotifyError::Unavailable`] (the endpoint is removed in Development Mode).
    pub async fn top_tracks(&self, artist_id: &str) -> Result<Vec<Track>, SpotifyError> {
        let url = self.api_url(
            &format!("/artists/{}/top-tracks", checked_id(artist_id)?),
            &[("market", self.market())],
        )?;
        let answer: wire::TopTracks = self.get(url).await.map_err(removed_as_unavailable)?;
        Ok(answer
            .tracks
            .into_iter()
            .zip(1..)
            .map(|(t, rank)| t.into_track(artist_id, rank))
            .collect())
    }

    /// Audio features for `track_ids`, one slot per id in order (`None` for tracks Spotify
    /// has no features for), in calls of at most [`AUDIO_FEATURES_BATCH`] ids. A 403 or
    /// 404 is [`SpotifyError::Unavailable`].
    pub async fn audio_features(
        &self,
        track_ids: &[String],
    ) -> Result<Vec<Option<AudioFeatures>>, SpotifyError> {
        let mut slots = Vec::with_capacity(track_ids.len());
        for chunk in track_ids.chunks(AUDIO_FEATURES_BATCH) {
            for id in chunk {
                checked_id(id)?;
            }
            let url = self.api_url("/audio-features", &[("ids", &chunk.join(","))])?;
            let answer: wire::AudioFeaturesBatch =
                self.get(url).await.map_err(removed_as_unavailable)?;
            let mut batch: Vec<Option<AudioFeatures>> = answer
                .audio_features
                .into_iter()
                .map(|f| f.and_then(wire::WireAudioFeatures::into_features))
                .collect();
            batch.resize(chunk.len(), None);
            slots.extend(batch);
        }
        Ok(slots)
    }

    /// The artist's albums and singles (`include_groups=album,single`), every page
    /// (at most [`MAX_ALBUM_PAGES`]), in Spotify's order. Albums without a usable type or
    /// release date are skipped.
    pub async fn artist_albums(&self, artist_id: &str) -> Result<Vec<Release>, SpotifyError> {
        let limit = PAGE_LIMIT.to_string();
        let mut url = Some(self.api_url(
            &format!("/artists/{}/albums", checked_id(artist_id)?),
            &[
                ("include_groups", "album,single"),
                ("market", self.market()),
                ("limit", &limit),
            ],
        )?);
        let mut releases = Vec::new();
        let mut pages = 0;
        while let Some(page_url) = url.take() {
            pages += 1;
            let page: wire::Paging<wire::Album> = self.get(page_url).await?;
            for album in page.items.into_iter().flatten() {
                let id = album.id.clone();
                match album.into_release(artist_id) {
                    Some(release) => releases.push(release),
                    None => {
                        tracing::debug!(album_id = %id, "album without a usable type or release date skipped")
                    }
                }
            }
            url = match page.next {
                Some(next) if pages < MAX_ALBUM_PAGES => Some(self.next_url(&next)?),
                _ => None,
            };
        }
        Ok(releases)
    }

    /// The artist's own `n` newest releases (no compilations, no appearances on other
    /// artists' albums), newest first.
    pub async fn latest_releases(
        &self,
        artist_id: &str,
        n: usize,
    ) -> Result<Vec<Release>, SpotifyError> {
        Ok(latest_releases(&self.artist_albums(artist_id).await?, n))
    }

    /// The artist `query` means: a search for its words with the search syntax
    /// neutralised ([`search_keywords`]), then [`choose_artist`] among the results by the
    /// query as typed; [`SpotifyError::NotFound`] when no search result is a credible
    /// match.
    pub async fn resolve_artist(&self, query: &str) -> Result<Resolved, SpotifyError> {
        let not_found = || SpotifyError::NotFound {
            what: format!("an artist named {query:?}"),
        };
        let keywords = search_keywords(query);
        if encore_domain::is_blank(&keywords) {
            return Err(not_found());
        }
        let mut results = self.search_artists(&keywords).await?;
        match choose_artist(query, &results) {
            Some((index, reason)) => {
                let artist = results.swap_remove(index);
                tracing::info!(query, artist_id = %artist.id, artist = ?artist.name, reason = reason.as_str(), "resolved artist");
                Ok(Resolved { artist, reason })
            }
            None => {
                tracing::info!(
                    query,
                    results = results.len(),
                    "no artist matches the query"
                );
                Err(not_found())
            }
        }
    }

    /// The artist's top tracks and their audio features, in as few calls as possible: top
    /// tracks, then the feature chain ([`FeatureChain`]). When the app is refused top
    /// tracks, they come from a track search for the artist; when it is refused audio
    /// features, they come from the fallback (or stay missing without one). A refusal is
    /// logged once and remembered, so later calls skip the endpoint.
    pub async fn top_tracks_with_features(
        &self,
        artist: &Artist,
    ) -> Result<ArtistTracks, SpotifyError> {
        let mut degraded = Vec::new();
        let top = if self.is_refused(RefusedEndpoint::TopTracks) {
            Err(SpotifyError::Unavailable {
                endpoint: RefusedEndpoint::TopTracks.as_str().into(),
                status: 403,
            })
        } else {
            self.top_tracks(&artist.id).await
        };
        let mut tracks = match top {
            Ok(tracks) => tracks,
            Err(SpotifyError::Unavailable { status, .. }) => {
                self.mark_refused(RefusedEndpoint::TopTracks, status);
                degraded.push(RefusedEndpoint::TopTracks);
                self.tracks_from_search(artist).await?
            }
            Err(e) => return Err(e),
        };
        let ids: Vec<String> = tracks.iter().map(|t| t.id.clone()).collect();
        let chained = self.feature_chain().features(&ids).await?;
        if chained.spotify_refused {
            degraded.push(RefusedEndpoint::AudioFeatures);
        }
        let features = chained.features;
        AudioFeatures::mark_sources(&mut tracks, &features);
        if !degraded.is_empty() {
            self.inner.fallbacks.fetch_add(1, Ordering::Relaxed);
        }
        Ok(ArtistTracks {
            tracks,
            features,
            degraded,
        })
    }

    /// The top-tracks fallback (Development Mode has no top tracks and no `popularity`):
    /// search `artist:"NAME"` (at most [`FALLBACK_SEARCH_PAGES`] pages of [`PAGE_LIMIT`]), keep only tracks
    /// whose artists include this artist's id (a name search also finds namesakes and
    /// artists whose names contain the words), each once, at most [`TOP_TRACKS`]. Ranked
    /// by popularity when every track has one (Extended Quota Mode); otherwise in
    /// Spotify's search order, which is its relevance ranking for the artist and already
    /// weighs popularity, so the list is the artist's best-known tracks either way.
    async fn tracks_from_search(&self, artist: &Artist) -> Result<Vec<Track>, SpotifyError> {
        let query = format!("artist:\"{}\"", search_keywords(&artist.name));
        let mut tracks: Vec<Track> = Vec::new();
        let mut offset = 0;
        for _ in 0..FALLBACK_SEARCH_PAGES {
            let page = self.search_tracks(&query, offset).await?;
            offset += PAGE_LIMIT;
            for found in page.tracks {
                let ours = found.artist_ids.contains(&artist.id);
                if ours && !tracks.iter().any(|t| t.id == found.track.id) {
                    tracks.push(found.track);
                }
            }
            if tracks.len() >= TOP_TRACKS || !page.has_more {
                break;
            }
        }
        if tracks.iter().all(|t| t.popularity.is_some()) {
            tracks.sort_by_key(|t| std::cmp::Reverse(t.popularity));
        }
        tracks.truncate(TOP_TRACKS);
        for (track, rank) in tracks.iter_mut().zip(1..) {
            track.rank = rank;
            track.artist_id.clone_from(&artist.id);
        }
        Ok(tracks)
    }

    pub(crate) fn is_refused(&self, endpoint: RefusedEndpoint) -> bool {
        self.inner.refused[endpoint.slot()].load(Ordering::Relaxed)
    }

    /// Remembers a refused endpoint; logs the first time only.
    pub(crate) fn mark_refused(&self, endpoint: RefusedEndpoint, status: u16) {
        if !self.inner.refused[endpoint.slot()].swap(true, Ordering::Relaxed) {
            tracing::warn!(
                endpoint = endpoint.as_str(),
                status,
                "Spotify refuses this endpoint to the app (Development Mode); using the fallback from now on"
            );
        }
    }

    fn api_url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, SpotifyError> {
        let mut url =
            Url::parse(&format!("{}{path}", self.inner.config.api_base)).map_err(|e| {
                SpotifyError::Config {
                    reason: format!("api base: {e}"),
                }
            })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// A paging `next` link, followed only when it points into the configured API (the
    /// token is never sent elsewhere).
    fn next_url(&self, next: &str) -> Result<Url, SpotifyError> {
        let api_base = &self.inner.config.api_base;
        match Url::parse(next) {
            Ok(url) if next.starts_with(&format!("{api_base}/")) => Ok(url),
            _ => Err(SpotifyError::Http {
                endpoint: "paging".into(),
                status: 200,
                message: format!("next link outside {api_base}"),
            }),
        }
    }

    /// GETs `url` with the bearer token and decodes the JSON answer, retrying as the
    /// policy allows and refreshing the token once on a 401.
    async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T, SpotifyError> {
        let endpoint = url.path().to_owned();
        let mut attempt = 0;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let (token, generation) = self.bearer().await?;
            self.inner.calls.fetch_add(1, Ordering::Relaxed);
            let sent = self
                .bounded(self.inner.http.get(url.clone()).bearer_auth(&token))
                .send()
                .await;
            let failure = match self.receive(sent).await {
                Ok(answer) if answer.status.is_success() => {
                    return serde_json::from_slice(&answer.body)
                        .map_err(|source| SpotifyError::Decode { endpoint, source })
                }
                Ok(answer) => classify(&answer, &endpoint, &self.inner.config.retry),
                Err(source) => transport(&endpoint, source),
            };
            match failure {
                Failure::Refresh(message) => {
                    if refreshed {
                        return Err(SpotifyError::Unauthorized { message });
                    }
                    refreshed = true;
                    attempt -= 1;
                    tracing::info!(endpoint = %endpoint, "access token rejected; getting a new one");
                    self.invalidate(generation).await;
                }
                other => settle(&self.inner.config.retry, other, &endpoint, attempt).await?,
            }
        }
    }

    /// A valid access token and its generation: the cached one, or a new one fetched
    /// while holding the lock, so concurrent callers wait for one refresh.
    async fn bearer(&self) -> Result<(String, u64), SpotifyError> {
        let mut slot = self.inner.token.lock().await;
        if let Some(token) = &slot.token {
            if Instant::now() < token.refresh_at {
                return Ok((token.value.clone(), slot.generation));
            }
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        slot.token = Some(fresh);
        slot.generation += 1;
        Ok((value, slot.generation))
    }

    /// Drops the cached token if it is still the one of `generation`.
    async fn invalidate(&self, generation: u64) {
        let mut slot = self.inner.token.lock().await;
        if slot.generation == generation {
            slot.token = None;
        }
    }

    /// `POST /api/token` with the client credentials, retried like any call; a rejection
    /// of the credentials is [`SpotifyError::Unauthorized`].
    async fn fetch_token(&self) -> Result<CachedToken, SpotifyError> {
        let config = &self.inner.config;
        let endpoint = self.inner.token_url.path().to_owned();
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.inner.calls.fetch_add(1, Ordering::Relaxed);
            self.inner.token_calls.fetch_add(1, Ordering::Relaxed);
            let sent = self
                .bounded(
                    self.inner
                        .http
                        .post(self.inner.token_url.clone())
                        .basic_auth(&config.client_id, Some(config.client_secret.expose()))
                        .form(&[("grant_type", "client_credentials")]),
                )
                .send()
                .await;
            let failure =
                match self.receive(sent).await {
                    Ok(answer) if answer.status.is_success() => {
                        let token: wire::TokenAnswer = serde_json::from_slice(&answer.body)
                            .map_err(|source| SpotifyError::Decode {
                                endpoint: endpoint.clone(),
                                source,
                            })?;
                        if token
                            .token_type
                            .as_deref()
                            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
                        {
                            return Err(SpotifyError::Unauthorized {
                                message: "token type is not Bearer".into(),
                            });
                        }
                        let lifetime = Duration::from_secs(token.expires_in);
                        let margin = (lifetime / 10).min(Duration::from_secs(60));
                        return Ok(CachedToken {
                            value: token.access_token,
                            refresh_at: Instant::now() + lifetime - margin,
                        });
                    }
                    Ok(answer) if matches!(answer.status.as_u16(), 400 | 401 | 403) => {
                        let (message, _) = wire::ErrorBody::parse(&answer.body);
                        Failure::Fatal(SpotifyError::Unauthorized { message })
                    }
                    Ok(answer) => classify(&answer, &endpoint, &config.retry),
                    Err(source) => transport(&endpoint, source),
                };
            settle(&config.retry, failure, &endpoint, attempt).await?;
        }
    }
}

impl SpotifyClient {
    /// The request with its timeout cut to the time left before the scope's deadline.
    fn bounded(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match crate::deadline::remaining() {
            Some(left) if left < self.inner.config.request_timeout => request.timeout(left),
            _ => request,
        }
    }

    /// Reads the answer of a sent request, counting rate limits.
    async fn receive(
        &self,
        sent: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<Answer, reqwest::Error> {
        let answer = receive(sent).await?;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            self.inner.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
        Ok(answer)
    }
}

/// Returns the error of a final failure, or waits before the next attempt.
pub(crate) async fn settle(
    policy: &RetryPolicy,
    failure: Failure,
    endpoint: &str,
    attempt: u32,
) -> Result<(), SpotifyError> {
    match failure {
        Failure::Retry { error, wait } if attempt < policy.max_attempts => {
            let delay = wait.unwrap_or_else(|| backoff(policy, attempt));
            if let Some(left) = crate::deadline::remaining().filter(|left| delay >= *left) {
                tracing::warn!(
                    endpoint,
                    attempt,
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    left_ms = u64::try_from(left.as_millis()).unwrap_or(u64::MAX),
                    error = %error,
                    "call failed; no time left to retry before the deadline"
                );
                return Err(SpotifyError::Deadline {
                    endpoint: endpoint.to_owned(),
                    wait: delay,
                    left,
                    cause: error.to_string(),
                });
            }
            tracing::warn!(
                endpoint,
                attempt,
                max_attempts = policy.max_attempts,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %error,
                "call failed; retrying"
            );
            tokio::time::sleep(delay).await;
            Ok(())
        }
        Failure::Retry { error, .. } | Failure::Fatal(error) => Err(error),
        Failure::Refresh(message) => Err(SpotifyError::Unauthorized { message }),
    }
}

/// Reads the status, `Retry-After` and body of a sent request.
pub(crate) async fn receive(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<Answer, reqwest::Error> {
    let response = sent?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let body = response.bytes().await?.to_vec();
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

pub(crate) fn transport(endpoint: &str, source: reqwest::Error) -> Failure {
    Failure::Retry {
        error: SpotifyError::Transport {
            endpoint: endpoint.to_owned(),
            source: source.without_url(),
        },
        wait: None,
    }
}

/// Sorts a non-success answer: 401 refresh; 429 wait `Retry-After` (unless too long or
/// the quota is exhausted); 5xx retry; 403 unavailable; the rest final.
pub(crate) fn classify(answer: &Answer, endpoint: &str, policy: &RetryPolicy) -> Failure {
    let (message, reason) = wire::ErrorBody::parse(&answer.body);
    let endpoint = endpoint.to_owned();
    let status = answer.status.as_u16();
    match answer.status {
        StatusCode::UNAUTHORIZED => Failure::Refresh(message),
        StatusCode::TOO_MANY_REQUESTS => {
            if reason.as_deref() == Some("QUOTA_EXCEEDED") {
                return Failure::Fatal(SpotifyError::QuotaExceeded { endpoint });
            }
            let retry_after = Duration::from_secs(answer.retry_after.unwrap_or(1));
            let error = SpotifyError::RateLimited {
                endpoint,
                retry_after,
            };
            if retry_after > policy.max_retry_after {
                Failure::Fatal(error)
            } else {
                Failure::Retry {
                    error,
                    wait: Some(retry_after),
                }
            }
        }
        StatusCode::FORBIDDEN => Failure::Fatal(SpotifyError::Unavailable { endpoint, status }),
        s if s.is_server_error() => Failure::Retry {
            error: SpotifyError::Http {
                endpoint,
                status,
                message,
            },
            wait: None,
        },
        _ => Failure::Fatal(SpotifyError::Http {
            endpoint,
            status,
            message,
        }),
    }
}

/// Exponential backoff with jitter: `base × 2^(attempt-1)`, capped, then a random point
/// in its upper half (so concurrent clients spread out but never retry at once).
fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(16);
    let ceiling = policy
        .base_delay
        .saturating_mul(1 << exponent)
        .min(policy.max_delay);
    let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(ceiling_ms / 2..=ceiling_ms))
}

/// 404 on a removed endpoint means the same as 403: not for this app.
fn removed_as_unavailable(error: SpotifyError) -> SpotifyError {
    match error {
        SpotifyError::Http {
            endpoint,
            status: 404,
            ..
        } => SpotifyError::Unavailable {
            endpoint,
            status: 404,
        },
        other => other,
    }
}

/// `id` when it is a 22-character base62 Spotify id (so it is safe in a URL path).
fn checked_id(id: &str) -> Result<&str, SpotifyError> {
    if id.len() == 22 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(id)
    } else {
        Err(SpotifyError::InvalidId { id: id.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            ..RetryPolicy::default()
        };
        for _ in 0..50 {
            let first = backoff(&policy, 1);
            assert!(
                first >= Duration::from_millis(50) && first <= Duration::from_millis(100),
                "{first:?}"
            );
            let third = backoff(&policy, 3);
            assert!(
                third >= Duration::from_millis(175) && third <= Duration::from_millis(350),
                "{third:?}"
            );
            assert!(backoff(&policy, 40) <= Duration::from_millis(350));
        }
    }

    #[test]
    fn classifies_answers() {
        let policy = RetryPolicy::default();
        let answer = |status: u16, retry_after: Option<u64>, body: &str| Answer {
            status: StatusCode::from_u16(status).unwrap(),
            retry_after,
            body: body.as_bytes().to_vec(),
        };
        let quota =
            r#"{"error":{"status":429,"message":"Too many requests","reason":"QUOTA_EXCEEDED"}}"#;
        assert!(matches!(
            classify(&answer(429, Some(1), quota), "/x", &policy),
            Failure::Fatal(SpotifyError::QuotaExceeded { .. })
        ));
        assert!(matches!(
            classify(&answer(429, Some(2), "{}"), "/x", &policy),
            Failure::Retry { wait: Some(w), .. } if w == Duration::from_secs(2)
        ));
        assert!(matches!(
            classify(&answer(429, Some(3600), "{}"), "/x", &policy),
            Failure::Fatal(SpotifyError::RateLimited { .. })
        ));
        assert!(matches!(
            classify(&answer(503, None, ""), "/x", &policy),
            Failure::Retry { wait: None, .. }
        ));
        assert!(matches!(
            classify(&answer(401, None, ""), "/x", &policy),
            Failure::Refresh(_)
        ));
        assert!(matches!(
            classify(&answer(403, None, ""), "/x", &policy),
            Failure::Fatal(SpotifyError::Unavailable { .. })
        ));
        let bad = r#"{"error":{"status":400,"message":"Invalid limit"}}"#;
        assert!(matches!(
            classify(&answer(400, None, bad), "/x", &policy),
            Failure::Fatal(SpotifyError::Http { status: 400, message, .. }) if message == "Invalid limit"
        ));
    }

    #[test]
    fn checks_ids() {
        assert!(checked_id("0123456789abcdefABCDEF").is_ok());
        assert!(checked_id("../../me").is_err());
        assert!(checked_id("0123456789abcdefABCDE").is_err());
    }
}
