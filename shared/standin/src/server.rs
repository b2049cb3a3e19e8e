//! The HTTP server: Spotify's token endpoint and the catalog endpoints encore uses, with
//! Spotify's status codes and error bodies, and the fault switches applied in front.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::catalog::{is_spotify_id, Catalog, SearchQuery};
use crate::faults::{
    Endpoint, FaultState, Faults, Injected, DEV_MODE_ALBUMS_LIMIT, DEV_MODE_SEARCH_LIMIT,
    EXTENDED_ALBUMS_LIMIT, EXTENDED_SEARCH_LIMIT,
};
use crate::wire::{Paging, View};

/// Most ids one audio-features call accepts.
pub const MAX_AUDIO_FEATURE_IDS: usize = 100;
/// Most ids one ReccoBeats audio-features call accepts.
pub const MAX_RECCOBEATS_IDS: usize = 40;
/// Where the stand-in serves ReccoBeats, under its base URL.
pub const RECCOBEATS_PREFIX: &str = "/reccobeats";
/// Highest search / albums `offset` Spotify accepts.
pub const MAX_OFFSET: u32 = 1000;

/// The client credentials the token endpoint accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
}

impl Credentials {
    /// The credentials the stand-in accepts unless told otherwise; the embedded default
    /// configuration uses the same pair.
    pub fn standin_default() -> Self {
        Self {
            client_id: "standin-client".into(),
            client_secret: "standin-secret".into(),
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// Why the stand-in could not start.
#[derive(Debug, thiserror::Error)]
pub enum StandInError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A stand-in server, configured but not yet listening.
#[derive(Debug, Clone)]
pub struct StandIn {
    catalog: Arc<Catalog>,
    credentials: Credentials,
    faults: Faults,
}

impl StandIn {
    /// A healthy server over `catalog` accepting [`Credentials::standin_default`].
    pub fn new(catalog: Arc<Catalog>) -> Self {
        Self {
            catalog,
            credentials: Credentials::standin_default(),
            faults: Faults::default(),
        }
    }

    /// Accept these client credentials instead.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// Start with these fault settings (they can be changed later through the handle).
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Binds `addr` (port 0 picks a free port) and serves until the handle is shut down
    /// or dropped.
    pub async fn serve(self, addr: SocketAddr) -> Result<RunningStandIn, StandInError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StandInError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| StandInError::Bind { addr, source })?;
        let base_url = format!("http://{local}");
        let state = Arc::new(AppState {
            catalog: self.catalog,
            credentials: self.credentials,
            faults: FaultState::new(&self.faults),
            tokens: Mutex::new(TokenBook::default()),
            base_url: base_url.clone(),
        });
        let app = router(Arc::clone(&state));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(%error, "stand-in server stopped");
            }
        });
        tracing::info!(%base_url, "Spotify stand-in listening");
        Ok(RunningStandIn {
            base_url,
            addr: local,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// A running stand-in: its address, its live fault switches and its call counters.
/// Dropping it stops the server.
pub struct RunningStandIn {
    base_url: String,
    addr: SocketAddr,
    state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningStandIn {
    /// `http://127.0.0.1:PORT`: both the accounts base and the API base (`/v1`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The API base the client uses: `{base_url}/v1`.
    pub fn api_base(&self) -> String {
        format!("{}/v1", self.base_url)
    }

    /// The ReccoBeats base the feature fallback uses: `{base_url}/reccobeats`.
    pub fn reccobeats_base(&self) -> String {
        format!("{}{RECCOBEATS_PREFIX}", self.base_url)
    }

    /// Answer the next `calls` ReccoBeats calls with 429 and `Retry-After:
    /// retry_after_secs`.
    pub fn reccobeats_rate_limit_burst(&self, calls: u32, retry_after_secs: u64) {
        self.state
            .faults
            .set_reccobeats_rate_limit_burst(calls, retry_after_secs);
    }

    /// Take ReccoBeats down (every call answers 503) or bring it back.
    pub fn set_reccobeats_outage(&self, on: bool) {
        self.state.faults.set_reccobeats_outage(on);
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Delay every answer by `latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.state.faults.set_latency(latency);
    }

    /// Answer the next `calls` API calls with 429 and `Retry-After: retry_after_secs`.
    pub fn rate_limit_burst(&self, calls: u32, retry_after_secs: u64) {
        self.state
            .faults
            .set_rate_limit_burst(calls, retry_after_secs, false);
    }

    /// Answer the next `calls` API calls with a 429 carrying `reason: QUOTA_EXCEEDED`.
    pub fn quota_exceeded_burst(&self, calls: u32, retry_after_secs: u64) {
        self.state
            .faults
            .set_rate_limit_burst(calls, retry_after_secs, true);
    }

    /// Answer every k-th API call with 500 (0 turns it off).
    pub fn set_server_error_every(&self, k: u32) {
        self.state.faults.set_server_error_every(k);
    }

    /// Switch Development Mode on or off.
    pub fn set_dev_mode(&self, on: bool) {
        self.state.faults.set_dev_mode(on);
    }

    /// Tokens issued from now on live `ttl`.
    pub fn set_token_ttl(&self, ttl: Duration) {
        self.state.faults.set_token_ttl(ttl);
    }

    /// Makes every token issued so far expired: the next API call with one gets 401.
    pub fn expire_tokens(&self) {
        let mut book = self.state.tokens();
        book.valid_from = book.next_seq;
    }

    /// Calls received on `endpoint` so far, faulted ones included.
    pub fn calls(&self, endpoint: Endpoint) -> u64 {
        self.state.faults.calls(endpoint)
    }

    /// Calls received on all endpoints so far.
    pub fn total_calls(&self) -> u64 {
        Endpoint::ALL
            .iter()
            .map(|&e| self.state.faults.calls(e))
            .sum()
    }

    /// Stops the server and waits for it to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl std::fmt::Debug for RunningStandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningStandIn")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Drop for RunningStandIn {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Issued tokens. Expiring all tokens at once raises `valid_from` to the next sequence
/// number.
#[derive(Default)]
struct TokenBook {
    issued: HashMap<String, IssuedToken>,
    next_seq: u64,
    valid_from: u64,
}

#[derive(Clone, Copy)]
struct IssuedToken {
    seq: u64,
    expires: Instant,
}

/// What the handlers share.
struct AppState {
    catalog: Arc<Catalog>,
    credentials: Credentials,
    faults: FaultState,
    tokens: Mutex<TokenBook>,
    base_url: String,
}

impl AppState {
    fn view(&self) -> View<'_> {
        View {
            base_url: &self.base_url,
            dev_mode: self.faults.dev_mode(),
        }
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, TokenBook> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/token", post(token))
        .route("/v1/search", get(search))
        .route("/v1/artists/{id}", get(artist))
        .route("/v1/artists/{id}/top-tracks", get(top_tracks))
        .route("/v1/artists/{id}/albums", get(artist_albums))
        .route("/v1/audio-features", get(audio_features))
        .route(
            &format!("{RECCOBEATS_PREFIX}/v1/audio-features"),
            get(reccobeats_features),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), guard))
        .with_state(state)
}

/// Spotify's regular error body.
fn api_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"status": status.as_u16(), "message": message}})),
    )
        .into_response()
}

/// A request refused with a status and Spotify's message (small, unlike a `Response`).
struct Rejection(StatusCode, &'static str);

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        api_error(self.0, self.1)
    }
}

/// Spotify's OAuth error body, used by the token endpoint.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn not_found() -> Response {
    api_error(StatusCode::NOT_FOUND, "Service not found")
}

/// In front of every route: count the call, wait the configured latency, then for API
/// calls check the bearer token and apply the 429 burst and the periodic 5xx.
async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let endpoint = Endpoint::of_path(request.uri().path());
    state.faults.count(endpoint);
    let latency = state.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if endpoint == Endpoint::Token || endpoint == Endpoint::Other {
        return next.run(request).await;
    }
    if endpoint == Endpoint::ReccoBeatsFeatures {
        // No key, and faults of its own.
        return match state.faults.inject_reccobeats() {
            Some(Injected::RateLimited {
                retry_after_secs, ..
            }) => {
                let mut response = api_error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                response
            }
            Some(Injected::ServerError) => {
                api_error(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable")
            }
            None => next.run(request).await,
        };
    }
    if let Err(rejection) = check_bearer(&state, request.headers()) {
        return rejection.into_response();
    }
    match state.faults.inject() {
        Some(Injected::RateLimited {
            retry_after_secs,
            quota,
        }) => {
            let mut body = json!({"error": {"status": 429, "message": "Too many requests"}});
            if quota {
                body["error"]["reason"] = "QUOTA_EXCEEDED".into();
            }
            let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        Some(Injected::ServerError) => api_error(StatusCode::INTERNAL_SERVER_ERROR, "Server error"),
        None => next.run(request).await,
    }
}

fn check_bearer(state: &AppState, headers: &HeaderMap) -> Result<(), Rejection> {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(Rejection(StatusCode::UNAUTHORIZED, "No token provided"));
    };
    let Some(token) = value.strip_prefix("Bearer ") else {
        return Err(Rejection(
            StatusCode::BAD_REQUEST,
            "Only valid bearer authentication supported",
        ));
    };
    let book = state.tokens();
    match book.issued.get(token) {
        None => Err(Rejection(StatusCode::UNAUTHORIZED, "Invalid access token")),
        Some(issued) if issued.seq < book.valid_from || issued.expires <= Instant::now() => Err(
            Rejection(StatusCode::UNAUTHORIZED, "The access token expired"),
        ),
        Some(_) => Ok(()),
    }
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
}

/// `POST /api/token`: the client-credentials flow with Basic auth.
async fn token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    if !basic_auth_matches(&headers, &state.credentials) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client", "Invalid client");
    }
    if form.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type parameter is missing",
        );
    }
    let ttl = state.faults.token_ttl();
    let mut book = state.tokens();
    let seq = book.next_seq;
    book.next_seq += 1;
    let digest =
        Sha256::digest(format!("{}:{seq}:{:?}", state.base_url, Instant::now()).as_bytes());
    let access_token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    book.issued.insert(
        access_token.clone(),
        IssuedToken {
            seq,
            expires: Instant::now() + ttl,
        },
    );
    Json(json!({"access_token": access_token, "token_type": "Bearer", "expires_in": ttl.as_secs()}))
        .into_response()
}

fn basic_auth_matches(headers: &HeaderMap, expected: &Credentials) -> bool {
    let Some(encoded) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let wanted = format!("{}:{}", expected.client_id, expected.client_secret);
    decoded == wanted.as_bytes()
}

/// Parses a `limit` or `offset` parameter: absent → `default`, else a number in
/// `0..=max`.
fn bounded(value: Option<&str>, default: u32, max: u32) -> Option<u32> {
    match value {
        None => Some(default),
        Some(v) => v.trim().parse::<u32>().ok().filter(|n| *n <= max),
    }
}

/// The page `offset..offset+limit` of `items` as a paging object whose links repeat
/// `path` with `params` (already URL-encoded pairs).
fn page<T, U>(
    base_url: &str,
    path: &str,
    params: &[(&str, String)],
    items: &[T],
    limit: u32,
    offset: u32,
    render: impl Fn(&T) -> U,
) -> Paging<U> {
    let link = |offset: u32| {
        let mut query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        query.push(format!("offset={offset}"));
        query.push(format!("limit={limit}"));
        format!("{base_url}{path}?{}", query.join("&"))
    };
    let start = (offset as usize).min(items.len());
    let end = start.saturating_add(limit as usize).min(items.len());
    let next_offset = offset.saturating_add(limit);
    Paging {
        href: link(offset),
        items: items[start..end].iter().map(render).collect(),
        limit,
        next: (limit > 0 && (next_offset as usize) < items.len() && next_offset <= MAX_OFFSET)
            .then(|| link(next_offset)),
        offset,
        previous: (offset > 0).then(|| link(offset.saturating_sub(limit))),
        total: items.len(),
    }
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
fn encode(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// What stays unencoded in a query value of a paging link: RFC 3986's unreserved
/// characters, as Spotify encodes them.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Debug, Deserialize)]
struct SearchParams {
    q: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    market: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

/// `GET /v1/search` for `type=artist`, `track` or both.
async fn search(
    State(state): State<Arc<AppState>>,
    Query(params): Query<SearchParams>,
) -> Response {
    let Some(q) = params.q.as_deref().filter(|q| !q.trim().is_empty()) else {
        return api_error(StatusCode::BAD_REQUEST, "No search query");
    };
    let kinds: Vec<&str> = params
        .kind
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .collect();
    if kinds.iter().any(|k| !matches!(*k, "artist" | "track")) {
        return api_error(StatusCode::BAD_REQUEST, "Bad search type field");
    }
    let view = state.view();
    let (max, default) = if view.dev_mode {
        DEV_MODE_SEARCH_LIMIT
    } else {
        EXTENDED_SEARCH_LIMIT
    };
    let Some(limit) = bounded(params.limit.as_deref(), default, max) else {
        return api_error(StatusCode::BAD_REQUEST, "Invalid limit");
    };
    let Some(offset) = bounded(params.offset.as_deref(), 0, MAX_OFFSET) else {
        return api_error(StatusCode::BAD_REQUEST, "Invalid offset");
    };
    let query = SearchQuery::parse(q);
    let mut link_params = vec![("q", q.to_owned()), ("type", kinds.join(","))];
    if let Some(market) = &params.market {
        link_params.push(("market", market.clone()));
    }
    let catalog = &state.catalog;
    let mut body = serde_json::Map::new();
    for kind in kinds {
        let value = if kind == "artist" {
            let hits = catalog.search_artists(&query);
            serde_json::to_value(page(
                &state.base_url,
                "/v1/search",
                &link_params,
                &hits,
                limit,
                offset,
                |a| view.artist(a),
            ))
        } else {
            let hits = catalog.search_tracks(&query);
            serde_json::to_value(page(
                &state.base_url,
                "/v1/search",
                &link_params,
                &hits,
                limit,
                offset,
                |t| view.track(catalog, t),
            ))
        };
        match value {
            Ok(value) => body.insert(format!("{kind}s"), value),
            Err(_) => return api_error(StatusCode::INTERNAL_SERVER_ERROR, "Server error"),
        };
    }
    Json(body).into_response()
}

/// The catalog artist for a path id, or Spotify's 400 / 404 answer.
fn find_artist<'a>(
    catalog: &'a Catalog,
    id: &str,
) -> Result<&'a crate::catalog::CatalogArtist, Rejection> {
    if !is_spotify_id(id) {
        return Err(Rejection(StatusCode::BAD_REQUEST, "Invalid base62 id"));
    }
    catalog
        .artist(id)
        .ok_or(Rejection(StatusCode::NOT_FOUND, "Resource not found"))
}

/// `GET /v1/artists/{id}`.
async fn artist(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match find_artist(&state.catalog, &id) {
        Ok(artist) => Json(state.view().artist(artist)).into_response(),
        Err(rejection) => rejection.into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct MarketParams {
    market: Option<String>,
}

/// `GET /v1/artists/{id}/top-tracks?market=`: the artist's most popular tracks; refused in
/// Development Mode.
async fn top_tracks(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(params): Query<MarketParams>,
) -> Response {
    let view = state.view();
    if view.dev_mode {
        return api_error(StatusCode::FORBIDDEN, "Forbidden");
    }
    if !params
        .market
        .as_deref()
        .is_some_and(|m| m.len() == 2 && m.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        return api_error(StatusCode::BAD_REQUEST, "Invalid market");
    }
    let artist = match find_artist(&state.catalog, &id) {
        Ok(artist) => artist,
        Err(rejection) => return rejection.into_response(),
    };
    let tracks: Vec<_> = state
        .catalog
        .tracks_of(artist)
        .take(encore_domain::TOP_TRACKS_PER_ARTIST as usize)
        .map(|t| view.track(&state.catalog, t))
        .collect();
    Json(json!({ "tracks": tracks })).into_response()
}

#[derive(Debug, Deserialize)]
struct AlbumsParams {
    include_groups: Option<String>,
    market: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

/// `GET /v1/artists/{id}/albums`: the albums the artist has tracks on, newest first, as
/// `album` / `single` when the artist is the album's primary artist and `appears_on`
/// otherwise. Kept in Development Mode (with its lower limit).
async fn artist_albums(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(params): Query<AlbumsParams>,
) -> Response {
    let view = state.view();
    let groups: Vec<&str> = match params.include_groups.as_deref() {
        None | Some("") => vec!["album", "single", "appears_on", "compilation"],
        Some(list) => list.split(',').map(str::trim).collect(),
    };
    if groups
        .iter()
        .any(|g| !matches!(*g, "album" | "single" | "appears_on" | "compilation"))
    {
        return api_error(StatusCode::BAD_REQUEST, "Invalid include_groups");
    }
    let (max, default) = if view.dev_mode {
        DEV_MODE_ALBUMS_LIMIT
    } else {
        EXTENDED_ALBUMS_LIMIT
    };
    let Some(limit) = bounded(params.limit.as_deref(), default, max) else {
        return api_error(StatusCode::BAD_REQUEST, "Invalid limit");
    };
    let Some(offset) = bounded(params.offset.as_deref(), 0, MAX_OFFSET) else {
        return api_error(StatusCode::BAD_REQUEST, "Invalid offset");
    };
    let catalog = &state.catalog;
    let artist = match find_artist(catalog, &id) {
        Ok(artist) => artist,
        Err(rejection) => return rejection.into_response(),
    };
    let albums: Vec<_> = catalog
        .albums_of(artist)
        .map(|album| {
            let primary = catalog.artist_at(album.primary_artist).id == artist.id;
            (
                album,
                if primary {
                    album.album_type()
                } else {
                    "appears_on"
                },
            )
        })
        .filter(|(_, group)| groups.contains(group))
        .collect();
    let mut link_params = vec![("include_groups", groups.join(","))];
    if let Some(market) = &params.market {
        link_params.push(("market", market.clone()));
    }
    let path = format!("/v1/artists/{}/albums", artist.id);
    Json(page(
        &state.base_url,
        &path,
        &link_params,
        &albums,
        limit,
        offset,
        |(album, group)| view.album(catalog, album, Some(group)),
    ))
    .into_response()
}

#[derive(Debug, Deserialize)]
struct IdsParams {
    ids: Option<String>,
}

/// `GET /v1/audio-features?ids=`: one slot per id in request order, `null` for unknown
/// ids; refused in Development Mode.
async fn audio_features(
    State(state): State<Arc<AppState>>,
    Query(params): Query<IdsParams>,
) -> Response {
    let view = state.view();
    if view.dev_mode {
        return api_error(StatusCode::FORBIDDEN, "Forbidden");
    }
    let ids: Vec<&str> = params
        .ids
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|id| !id.is_empty())
        .collect();
    if ids.is_empty() {
        return api_error(StatusCode::BAD_REQUEST, "invalid request");
    }
    if ids.len() > MAX_AUDIO_FEATURE_IDS {
        return api_error(StatusCode::BAD_REQUEST, "Too many ids requested");
    }
    if ids.iter().any(|id| !is_spotify_id(id)) {
        return api_error(StatusCode::BAD_REQUEST, "invalid request");
    }
    let features: Vec<_> = ids
        .iter()
        .map(|id| state.catalog.track(id).map(|t| view.audio_features(t)))
        .collect();
    Json(json!({ "audio_features": features })).into_response()
}

/// `GET /reccobeats/v1/audio-features?ids=`: ReccoBeats as observed (docs/reccobeats.md):
/// at most [`MAX_RECCOBEATS_IDS`] Spotify ids, unknown ones left out (no null slots),
/// items in an order of their own, each with a ReccoBeats UUID as `id` and the Spotify id
/// only in its `href`. Served in both Spotify modes.
async fn reccobeats_features(
    State(state): State<Arc<AppState>>,
    Query(params): Query<IdsParams>,
) -> Response {
    let mut ids: Vec<&str> = params
        .ids
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .collect();
    if ids.is_empty() {
        return api_error(StatusCode::BAD_REQUEST, "ids is required");
    }
    if ids.len() > MAX_RECCOBEATS_IDS {
        return api_error(StatusCode::BAD_REQUEST, "Too many ids requested");
    }
    ids.sort_unstable();
    ids.dedup();
    let mut items: Vec<(Vec<u8>, serde_json::Value)> = ids
        .iter()
        .filter_map(|id| state.catalog.track(id))
        .map(|t| {
            let digest = Sha256::digest(t.id.as_bytes()).to_vec();
            let f = &t.features;
            let item = json!({
                "id": uuid_of(&digest),
                "href": format!("https://open.spotify.com/track/{}", t.id),
                "acousticness": f.acousticness,
                "danceability": f.danceability,
                "energy": f.energy,
                "instrumentalness": f.instrumentalness,
                "key": f.key,
                "liveness": f.liveness,
                "loudness": f.loudness,
                "mode": f.mode,
                "speechiness": f.speechiness,
                "tempo": f.tempo,
                "valence": f.valence,
            });
            (digest, item)
        })
        .collect();
    // An order of its own: by a hash of the id, neither the request's nor sorted.
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let content: Vec<serde_json::Value> = items.into_iter().map(|(_, item)| item).collect();
    Json(json!({ "content": content })).into_response()
}

/// A UUID-shaped id made of a digest's first 16 bytes (ReccoBeats' ids are UUIDs).
fn uuid_of(digest: &[u8]) -> String {
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_with_links() {
        let items: Vec<u32> = (0..25).collect();
        let p = page(
            "http://h",
            "/v1/x",
            &[("q", "a b".into())],
            &items,
            10,
            10,
            |n| *n,
        );
        assert_eq!(p.items, (10..20).collect::<Vec<_>>());
        assert_eq!(
            p.next.as_deref(),
            Some("http://h/v1/x?q=a%20b&offset=20&limit=10")
        );
        assert_eq!(
            p.previous.as_deref(),
            Some("http://h/v1/x?q=a%20b&offset=0&limit=10")
        );
        let last = page("http://h", "/v1/x", &[], &items, 10, 20, |n| *n);
        assert_eq!(last.items.len(), 5);
        assert_eq!(last.next, None);
        assert_eq!(last.total, 25);
    }

    #[test]
    fn bounds_limits() {
        assert_eq!(bounded(None, 5, 10), Some(5));
        assert_eq!(bounded(Some("10"), 5, 10), Some(10));
        assert_eq!(bounded(Some("11"), 5, 10), None);
        assert_eq!(bounded(Some("-1"), 5, 10), None);
        assert_eq!(bounded(Some("x"), 5, 10), None);
    }
}
