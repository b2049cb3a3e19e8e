//! The Development Mode fallbacks: an app refused top tracks gets them from a track
//! search for the artist, an app refused audio features gets them from the feature
//! chain's fallback (ReccoBeats); each refusal is logged once and remembered.

use std::sync::atomic::Ordering;

use encore_domain::{Artist, AudioFeatures, Track, TOP_TRACKS_PER_ARTIST};

use super::SpotifyClient;
use crate::config::{PAGE_LIMIT, SEARCH_MAX_OFFSET};
use crate::error::SpotifyError;
use crate::resolve::search_keywords;

/// Most search pages the top-tracks fallback reads: every page Spotify lets a search
/// reach ([`SEARCH_MAX_OFFSET`]). A short name (`MIKE`, `Smith`) shares its search with
/// every artist whose name contains it, so its own tracks can sit many pages down; a cap
/// of 10 pages left one artist of the data set with half its tracks, and through the
/// standardisation shifted 1.3 % of all neighbour lists. The search stops at the last page
/// or once [`TOP_TRACKS_PER_ARTIST`] of the artist's own are found, so on the data set this costs
/// 1.033 search calls per artist instead of 1.024.
pub const FALLBACK_SEARCH_PAGES: u32 = SEARCH_MAX_OFFSET / PAGE_LIMIT + 1;

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

    /// Its index in the client's `refused` flags.
    pub(super) fn slot(self) -> usize {
        self as usize
    }
}

/// An artist's top tracks and the audio features Spotify has for them.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtistTracks {
    /// Ranked 1..n (at most [`TOP_TRACKS_PER_ARTIST`]).
    pub tracks: Vec<Track>,
    /// Features of the tracks that have them, each with its source (Spotify, or the
    /// fallback for what Spotify refused or left out).
    pub features: Vec<AudioFeatures>,
    /// The endpoints that were refused and replaced for this answer.
    pub degraded: Vec<RefusedEndpoint>,
}

impl SpotifyClient {
    /// The artist's top tracks and their audio features, in as few calls as possible: top
    /// tracks, then the feature chain ([`crate::FeatureChain`]). When the app is refused top
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
        let ids: Vec<String> = tracks.iter().map(|t| t.id.to_string()).collect();
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
    /// artists whose names contain the words), each once, at most [`TOP_TRACKS_PER_ARTIST`]. Ranked
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
            if tracks.len() >= TOP_TRACKS_PER_ARTIST as usize || !page.has_more {
                break;
            }
        }
        if tracks.iter().all(|t| t.popularity.is_some()) {
            tracks.sort_by_key(|t| std::cmp::Reverse(t.popularity));
        }
        tracks.truncate(TOP_TRACKS_PER_ARTIST as usize);
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
}
