//! ReccoBeats, the second source of audio features: a free, keyless API serving Spotify's
//! audio features by Spotify track id, as observed (docs/reccobeats.md). Its calls go
//! through the Spotify client's retry loop ([`crate::transport`]): `Retry-After` on 429,
//! backoff with jitter on 5xx and transport errors, no retry that would pass the scope's
//! deadline.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use encore_domain::{AudioFeatures, FeatureSource, TrackId};
use reqwest::Url;
use serde::Deserialize;

use crate::config::RetryPolicy;
use crate::error::SpotifyError;
use crate::transport::{Auth, Transport};

/// ReccoBeats' API (its paths start with `/v1`).
pub const RECCOBEATS_BASE: &str = "https://api.reccobeats.com";
/// Most ids one ReccoBeats audio-features call takes.
pub const RECCOBEATS_BATCH: usize = 40;
/// The path of the audio-features endpoint, under the base URL.
pub const RECCOBEATS_FEATURES_PATH: &str = "/v1/audio-features";
/// Where a track's Spotify id is found in a ReccoBeats item: its `href`.
pub const SPOTIFY_TRACK_LINK: &str = "https://open.spotify.com/track/";
/// The `User-Agent` sent: ReccoBeats was seen refusing (403) clients that send a generic
/// one or none.
const USER_AGENT: &str = concat!("encore/", env!("CARGO_PKG_VERSION"));

/// How to reach ReccoBeats (or the stand-in playing it) and how hard to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReccoBeatsConfig {
    /// Base URL without a trailing slash (`{base_url}/v1/audio-features`).
    pub base_url: String,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// The same rules as the Spotify client's.
    pub retry: RetryPolicy,
}

impl ReccoBeatsConfig {
    /// ReccoBeats at `base_url`, with the Spotify client's default timeouts and retries.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        }
    }
}

impl Default for ReccoBeatsConfig {
    fn default() -> Self {
        Self::new(RECCOBEATS_BASE)
    }
}

/// A ReccoBeats client. Cheap to clone: clones share the call counters.
#[derive(Clone)]
pub struct ReccoBeatsClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    config: ReccoBeatsConfig,
}

impl std::fmt::Debug for ReccoBeatsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReccoBeatsClient")
            .field("config", &self.inner.config)
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}

/// One item of ReccoBeats' answer, every field optional: an item missing something is
/// skipped rather than failing the batch.
#[derive(Debug, Deserialize)]
struct WireItem {
    href: Option<String>,
    acousticness: Option<f64>,
    danceability: Option<f64>,
    energy: Option<f64>,
    instrumentalness: Option<f64>,
    key: Option<f64>,
    liveness: Option<f64>,
    loudness: Option<f64>,
    mode: Option<f64>,
    speechiness: Option<f64>,
    tempo: Option<f64>,
    valence: Option<f64>,
}

/// `{"content": [item, …]}`; anything else in the answer is ignored.
#[derive(Debug, Deserialize)]
struct WireAnswer {
    #[serde(default)]
    content: Vec<serde_json::Value>,
}

impl ReccoBeatsClient {
    /// A client for `config`; fails only when the base URL is not a URL or the HTTP
    /// client cannot be built.
    pub fn new(config: ReccoBeatsConfig) -> Result<Self, SpotifyError> {
        Url::parse(&config.base_url).map_err(|e| SpotifyError::Config {
            reason: format!("ReccoBeats base: {e}"),
        })?;
        let transport = Transport::new(
            config.request_timeout,
            config.connect_timeout,
            Some(USER_AGENT),
            config.retry.clone(),
        )?;
        Ok(Self {
            inner: Arc::new(Inner { transport, config }),
        })
    }

    /// HTTP requests sent so far (retries included).
    pub fn calls(&self) -> u64 {
        self.inner.transport.calls()
    }

    /// Answers 429 received so far.
    pub fn rate_limited(&self) -> u64 {
        self.inner.transport.rate_limited()
    }

    /// The features ReccoBeats has for `track_ids` (Spotify ids), in calls of at most
    /// [`RECCOBEATS_BATCH`] ids, in the order of `track_ids`; ids it does not know are
    /// left out. Items are matched by the Spotify id in their `href`, never by position.
    pub async fn audio_features(
        &self,
        track_ids: &[String],
    ) -> Result<Vec<AudioFeatures>, SpotifyError> {
        let mut found = Vec::with_capacity(track_ids.len());
        for chunk in track_ids.chunks(RECCOBEATS_BATCH) {
            let mut url = Url::parse(&format!(
                "{}{RECCOBEATS_FEATURES_PATH}",
                self.inner.config.base_url
            ))
            .map_err(|e| SpotifyError::Config {
                reason: format!("ReccoBeats base: {e}"),
            })?;
            url.query_pairs_mut().append_pair("ids", &chunk.join(","));
            let body = self.get(url).await?;
            found.extend(parse_answer(&body, chunk)?);
        }
        let position: std::collections::HashMap<&str, usize> = track_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        found.sort_by_key(|f| position.get(f.track_id.as_str()).copied());
        Ok(found)
    }

    /// GETs `url`, retrying as the policy allows; the body of the successful answer.
    async fn get(&self, url: Url) -> Result<Vec<u8>, SpotifyError> {
        let endpoint = format!("ReccoBeats {}", url.path());
        let answer = self
            .inner
            .transport
            .send(&endpoint, Auth::Anonymous, |http| http.get(url.clone()))
            .await?;
        Ok(answer.body)
    }
}

/// The features in one answer for the ids of `asked`: items whose `href` names a track
/// that was asked for and that carry every feature, each track once.
fn parse_answer(body: &[u8], asked: &[String]) -> Result<Vec<AudioFeatures>, SpotifyError> {
    let answer: WireAnswer =
        serde_json::from_slice(body).map_err(|source| SpotifyError::Decode {
            endpoint: format!("ReccoBeats {RECCOBEATS_FEATURES_PATH}"),
            source,
        })?;
    let asked: HashSet<&str> = asked.iter().map(String::as_str).collect();
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    for value in answer.content {
        let Ok(item) = serde_json::from_value::<WireItem>(value) else {
            continue;
        };
        let Some(features) = item.into_features() else {
            continue;
        };
        if asked.contains(features.track_id.as_str()) && seen.insert(features.track_id.clone()) {
            found.push(features);
        }
    }
    Ok(found)
}

impl WireItem {
    /// The domain features, `None` when the `href` names no Spotify track or a feature
    /// is missing or off its scale.
    fn into_features(self) -> Option<AudioFeatures> {
        let track_id = spotify_id_in(self.href.as_deref()?)?;
        Some(AudioFeatures {
            track_id,
            danceability: self.danceability?,
            energy: self.energy?,
            key: whole(self.key?, -1, 11)?,
            loudness: self.loudness?,
            mode: whole(self.mode?, 0, 1)?,
            speechiness: self.speechiness?,
            acousticness: self.acousticness?,
            instrumentalness: self.instrumentalness?,
            liveness: self.liveness?,
            valence: self.valence?,
            tempo: self.tempo?,
            duration_ms: None,
            time_signature: None,
            source: FeatureSource::Reccobeats,
        })
        .filter(|f| f.similarity_vector().iter().all(|v| v.is_finite()))
    }
}

/// The Spotify track id of an `https://open.spotify.com/track/<id>` link (a query string
/// after the id is ignored).
fn spotify_id_in(href: &str) -> Option<TrackId> {
    let rest = href.strip_prefix(SPOTIFY_TRACK_LINK)?;
    let id = rest.split(['?', '/', '#']).next()?;
    if id.len() == 22 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        TrackId::try_from(id).ok()
    } else {
        None
    }
}

/// `value` as an integer in `low..=high`, when it is one.
fn whole(value: f64, low: i32, high: i32) -> Option<i32> {
    let rounded = value.round();
    (rounded == value && rounded >= f64::from(low) && rounded <= f64::from(high))
        .then_some(rounded as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ReccoBeats answer for two tracks as a public project's test recorded it on
    /// 9 October 2026 (C# `SongStatsTests`, found with the code search; some fields left
    /// out by that project), plus the sample row of another project's research notes
    /// (September 2026, `docs/reccobeats.md` lists both).
    const PARTIAL_ANSWER: &str = include_str!("../tests/fixtures/reccobeats-partial.json");
    const FULL_ROW: &str = include_str!("../tests/fixtures/reccobeats-full-row.json");

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn reads_a_real_row_by_its_href() {
        let found = parse_answer(FULL_ROW.as_bytes(), &ids(&["4Ub8UsjWuewQrPhuepfVpd"])).unwrap();
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!(f.track_id, "4Ub8UsjWuewQrPhuepfVpd");
        assert_eq!(f.source, FeatureSource::Reccobeats);
        assert_eq!((f.key, f.mode), (9, 1));
        assert!((f.tempo - 127.435).abs() < 1e-9);
        assert!((f.loudness + 6.383).abs() < 1e-9);
        assert!((f.acousticness - 0.0755).abs() < 1e-9);
    }

    #[test]
    fn skips_real_rows_missing_features_and_ids_not_asked() {
        let asked = ids(&["4PTG3Z6ehGkBFwjybzWkR8", "3n3Ppam7vgaVa1iaRUc9Lp"]);
        // That project's rows lack danceability and others: not usable, so left out.
        assert!(parse_answer(PARTIAL_ANSWER.as_bytes(), &asked)
            .unwrap()
            .is_empty());
        assert!(parse_answer(FULL_ROW.as_bytes(), &asked)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn tolerates_odd_shapes() {
        let asked = ids(&["4Ub8UsjWuewQrPhuepfVpd"]);
        assert!(parse_answer(br#"{"content":[]}"#, &asked)
            .unwrap()
            .is_empty());
        assert!(parse_answer(br#"{}"#, &asked).unwrap().is_empty());
        assert!(parse_answer(br#"{"content":[1, "x", null]}"#, &asked)
            .unwrap()
            .is_empty());
        assert!(parse_answer(b"not json", &asked).is_err());
    }

    #[test]
    fn finds_the_spotify_id_in_the_href_only() {
        assert_eq!(
            spotify_id_in("https://open.spotify.com/track/4Ub8UsjWuewQrPhuepfVpd?si=1")
                .as_ref()
                .map(TrackId::as_str),
            Some("4Ub8UsjWuewQrPhuepfVpd")
        );
        assert_eq!(
            spotify_id_in("https://open.spotify.com/album/4Ub8UsjWuewQrPhuepfVpd"),
            None
        );
        assert_eq!(spotify_id_in("https://open.spotify.com/track/short"), None);
        assert_eq!(whole(9.0, -1, 11), Some(9));
        assert_eq!(whole(9.5, -1, 11), None);
        assert_eq!(whole(12.0, -1, 11), None);
    }
}
