//! Spotify's JSON, as read off the wire. Fields Spotify has removed for some apps (or may
//! remove) are `Option` with `#[serde(default)]`, so a stripped answer still decodes;
//! everything is converted into domain types before leaving the crate.

use encore_domain::{Artist, ArtistId, AudioFeatures, FeatureSource, TrackId};
use serde::Deserialize;

use encore_domain::release::{AlbumType, Release, ReleaseDate};

#[derive(Debug, Deserialize)]
pub(crate) struct TokenAnswer {
    pub access_token: String,
    #[serde(default)]
    pub token_type: Option<String>,
    pub expires_in: u64,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ExternalUrls {
    #[serde(default)]
    pub spotify: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Image {
    pub url: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Followers {
    #[serde(default)]
    pub total: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FullArtist {
    /// Checked as it is read: an answer with a malformed artist id does not decode.
    pub id: ArtistId,
    pub name: String,
    #[serde(default)]
    pub popularity: Option<u32>,
    #[serde(default)]
    pub followers: Option<Followers>,
    #[serde(default)]
    pub genres: Option<Vec<String>>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub external_urls: ExternalUrls,
}

impl From<FullArtist> for Artist {
    fn from(a: FullArtist) -> Self {
        Artist {
            id: a.id,
            name: a.name,
            popularity: a.popularity,
            followers: a.followers.and_then(|f| f.total),
            genres: a.genres.unwrap_or_default(),
            image_url: a.images.into_iter().next().map(|i| i.url),
            spotify_url: a.external_urls.spotify,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct SimplifiedArtist {
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Album {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub album_type: Option<String>,
    #[serde(default)]
    pub release_date: Option<String>,
    #[serde(default)]
    pub release_date_precision: Option<String>,
    #[serde(default)]
    pub total_tracks: Option<u32>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub external_urls: ExternalUrls,
    #[serde(default)]
    pub artists: Vec<SimplifiedArtist>,
}

impl Album {
    /// The release this album is for `artist_id`; `None` when it has no usable type or
    /// release date (logged by the caller).
    pub fn into_release(self, artist_id: &str) -> Option<Release> {
        let album_type = AlbumType::parse(self.album_type.as_deref()?)?;
        let release_date = ReleaseDate::from_spotify(
            self.release_date.as_deref()?,
            self.release_date_precision.as_deref(),
        )
        .ok()?;
        let primary_artist = self.artists.first().and_then(|a| a.id.as_deref()) == Some(artist_id);
        Some(Release {
            id: self.id,
            name: self.name,
            album_type,
            release_date,
            image_url: self.images.into_iter().next().map(|i| i.url),
            spotify_url: self.external_urls.spotify,
            primary_artist,
            total_tracks: self.total_tracks,
        })
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct TrackAlbum {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub images: Vec<Image>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FullTrack {
    /// Checked as it is read: an answer with a malformed track id does not decode.
    pub id: TrackId,
    pub name: String,
    #[serde(default)]
    pub popularity: Option<u32>,
    #[serde(default)]
    pub duration_ms: Option<u32>,
    #[serde(default)]
    pub external_urls: ExternalUrls,
    #[serde(default)]
    pub artists: Vec<SimplifiedArtist>,
    #[serde(default)]
    pub album: Option<TrackAlbum>,
}

impl FullTrack {
    /// The ids of the track's artists, in Spotify's order; an id that is absent (a local
    /// file) or malformed names no artist encore can know, and is left out.
    pub fn artist_ids(&self) -> Vec<ArtistId> {
        self.artists
            .iter()
            .filter_map(|a| ArtistId::try_from(a.id.as_deref()?).ok())
            .collect()
    }

    /// The domain track, as the `rank`-th top track of `artist_id`.
    pub fn into_track(self, artist_id: &ArtistId, rank: u32) -> encore_domain::Track {
        let (album_name, image_url) = match self.album {
            Some(album) => (album.name, album.images.into_iter().next().map(|i| i.url)),
            None => (None, None),
        };
        encore_domain::Track {
            id: self.id,
            name: self.name,
            artist_id: artist_id.clone(),
            rank,
            album_name,
            image_url,
            popularity: self.popularity,
            duration_ms: self.duration_ms,
            spotify_url: self.external_urls.spotify,
            features_source: None,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Paging<T> {
    #[serde(default = "Vec::new")]
    pub items: Vec<Option<T>>,
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ArtistSearch {
    pub artists: Paging<FullArtist>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TrackSearch {
    pub tracks: Paging<FullTrack>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TopTracks {
    pub tracks: Vec<FullTrack>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AudioFeaturesBatch {
    pub audio_features: Vec<Option<WireAudioFeatures>>,
}

/// Every field optional: an object missing a feature becomes "no features" for its
/// track rather than failing the whole batch.
#[derive(Debug, Deserialize)]
pub(crate) struct WireAudioFeatures {
    pub id: Option<String>,
    pub danceability: Option<f64>,
    pub energy: Option<f64>,
    pub key: Option<i32>,
    pub loudness: Option<f64>,
    pub mode: Option<i32>,
    pub speechiness: Option<f64>,
    pub acousticness: Option<f64>,
    pub instrumentalness: Option<f64>,
    pub liveness: Option<f64>,
    pub valence: Option<f64>,
    pub tempo: Option<f64>,
    #[serde(default)]
    pub duration_ms: Option<u32>,
    #[serde(default)]
    pub time_signature: Option<i32>,
}

impl WireAudioFeatures {
    /// The domain features, `None` when a feature is missing or the id is malformed.
    pub fn into_features(self) -> Option<AudioFeatures> {
        Some(AudioFeatures {
            track_id: TrackId::try_from(self.id?).ok()?,
            danceability: self.danceability?,
            energy: self.energy?,
            key: self.key?,
            loudness: self.loudness?,
            mode: self.mode?,
            speechiness: self.speechiness?,
            acousticness: self.acousticness?,
            instrumentalness: self.instrumentalness?,
            liveness: self.liveness?,
            valence: self.valence?,
            tempo: self.tempo?,
            duration_ms: self.duration_ms,
            time_signature: self.time_signature,
            source: FeatureSource::Spotify,
        })
    }
}

/// Spotify's error bodies: `{"error":{"status":…,"message":…,"reason":…}}` for the API,
/// `{"error":"invalid_client","error_description":…}` for the accounts service.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub error: ErrorField,
    #[serde(default)]
    pub error_description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum ErrorField {
    Api {
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        reason: Option<String>,
    },
    OAuth(String),
}

impl ErrorBody {
    /// The message and reason of an error body (best effort; empty when unreadable).
    pub fn parse(body: &[u8]) -> (String, Option<String>) {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(ErrorBody {
                error: ErrorField::Api { message, reason },
                ..
            }) => (message.unwrap_or_default(), reason),
            Ok(ErrorBody {
                error: ErrorField::OAuth(code),
                error_description,
            }) => (
                error_description.map_or(code.clone(), |d| format!("{code}: {d}")),
                None,
            ),
            Err(_) => (String::new(), None),
        }
    }
}
