//! The Web API calls ingest makes: search, artist, top tracks, audio features, artist
//! albums and the artist resolution built on search, each decoded into encore's types.

use encore_domain::release::{latest_releases, Release};
use encore_domain::{Artist, ArtistId, AudioFeatures, Track};
use reqwest::Url;
use serde::de::DeserializeOwned;

use super::SpotifyClient;
use crate::config::PAGE_LIMIT;
use crate::error::SpotifyError;
use crate::resolve::{choose_artist, search_keywords, Resolved};
use crate::transport::Auth;
use crate::wire;

/// Most ids one audio-features call takes.
pub const AUDIO_FEATURES_BATCH: usize = 100;
/// Most artist-albums pages read for one artist (at [`PAGE_LIMIT`] per page).
pub const MAX_ALBUM_PAGES: usize = 20;

/// A track found by search, with all its artists (the top-tracks fallback keeps the ones
/// whose artists include the wanted artist).
#[derive(Debug, Clone, PartialEq)]
pub struct FoundTrack {
    /// `artist_id` is the track's first artist; `rank` its 1-based position in the results.
    pub track: Track,
    pub artist_ids: Vec<ArtistId>,
}

/// One page of track search results.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackPage {
    pub tracks: Vec<FoundTrack>,
    /// True when Spotify has a further page.
    pub has_more: bool,
}

impl SpotifyClient {
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
            .filter_map(|(t, rank)| {
                // A track without a usable artist id can be no artist's own track.
                let artist_ids = t.artist_ids();
                let first = artist_ids.first()?.clone();
                Some(FoundTrack {
                    track: t.into_track(&first, rank),
                    artist_ids,
                })
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
    pub async fn top_tracks(&self, artist_id: &ArtistId) -> Result<Vec<Track>, SpotifyError> {
        let url = self.api_url(
            &format!("/artists/{}/top-tracks", checked_id(artist_id.as_str())?),
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
        let answer = self
            .inner
            .transport
            .send(&endpoint, Auth::Bearer(&self.inner.tokens), |http| {
                http.get(url.clone())
            })
            .await?;
        serde_json::from_slice(&answer.body)
            .map_err(|source| SpotifyError::Decode { endpoint, source })
    }
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
    fn checks_ids() {
        assert!(checked_id("0123456789abcdefABCDEF").is_ok());
        assert!(checked_id("../../me").is_err());
        assert!(checked_id("0123456789abcdefABCDE").is_err());
    }
}
