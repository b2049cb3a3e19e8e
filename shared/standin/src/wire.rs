//! Spotify's JSON shapes, built from catalog entries. In Development Mode the fields
//! Spotify strips (artist and track popularity, followers, genres) are left out.

use serde::Serialize;

use crate::catalog::{Catalog, CatalogAlbum, CatalogArtist, CatalogTrack};

/// Where the stand-in's own links point, and whether fields are stripped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    pub base_url: &'a str,
    pub dev_mode: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct ExternalUrls {
    spotify: String,
}

fn external(kind: &str, id: &str) -> ExternalUrls {
    ExternalUrls {
        spotify: format!("https://open.spotify.com/{kind}/{id}"),
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Followers {
    href: Option<String>,
    total: u64,
}

/// An `images` array: always empty, since the data set has no pictures.
type Images = [serde_json::Value; 0];

/// A full artist object.
#[derive(Debug, Serialize)]
pub(crate) struct ArtistJson {
    external_urls: ExternalUrls,
    #[serde(skip_serializing_if = "Option::is_none")]
    followers: Option<Followers>,
    #[serde(skip_serializing_if = "Option::is_none")]
    genres: Option<Vec<String>>,
    href: String,
    id: String,
    images: Images,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    popularity: Option<u32>,
    #[serde(rename = "type")]
    kind: &'static str,
    uri: String,
}

/// A simplified artist, as inside tracks and albums.
#[derive(Debug, Serialize)]
pub(crate) struct SimplifiedArtist {
    external_urls: ExternalUrls,
    href: String,
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    uri: String,
}

/// A simplified album, as inside tracks and in the artist-albums listing.
#[derive(Debug, Serialize)]
pub(crate) struct AlbumJson {
    album_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    album_group: Option<&'static str>,
    total_tracks: usize,
    external_urls: ExternalUrls,
    href: String,
    id: String,
    images: Images,
    name: String,
    release_date: String,
    release_date_precision: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    uri: String,
    artists: Vec<SimplifiedArtist>,
}

/// A full track object.
#[derive(Debug, Serialize)]
pub(crate) struct TrackJson {
    album: AlbumJson,
    artists: Vec<SimplifiedArtist>,
    duration_ms: u32,
    explicit: bool,
    external_urls: ExternalUrls,
    href: String,
    id: String,
    is_local: bool,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    popularity: Option<u32>,
    preview_url: Option<String>,
    track_number: u32,
    #[serde(rename = "type")]
    kind: &'static str,
    uri: String,
}

/// An audio-features object.
#[derive(Debug, Serialize)]
pub(crate) struct AudioFeaturesJson {
    acousticness: f64,
    analysis_url: String,
    danceability: f64,
    duration_ms: u32,
    energy: f64,
    id: String,
    instrumentalness: f64,
    key: i32,
    liveness: f64,
    loudness: f64,
    mode: i32,
    speechiness: f64,
    tempo: f64,
    track_href: String,
    #[serde(rename = "type")]
    kind: &'static str,
    uri: String,
    valence: f64,
}

/// A paging object.
#[derive(Debug, Serialize)]
pub(crate) struct Paging<T> {
    pub href: String,
    pub items: Vec<T>,
    pub limit: u32,
    pub next: Option<String>,
    pub offset: u32,
    pub previous: Option<String>,
    pub total: usize,
}

impl View<'_> {
    pub(crate) fn artist(&self, a: &CatalogArtist) -> ArtistJson {
        ArtistJson {
            external_urls: external("artist", &a.id),
            followers: (!self.dev_mode).then_some(Followers {
                href: None,
                total: a.followers,
            }),
            genres: (!self.dev_mode).then(Vec::new),
            href: format!("{}/v1/artists/{}", self.base_url, a.id),
            id: a.id.clone(),
            images: [],
            name: a.name.clone(),
            popularity: (!self.dev_mode).then_some(a.popularity),
            kind: "artist",
            uri: format!("spotify:artist:{}", a.id),
        }
    }

    fn simplified_artist(&self, a: &CatalogArtist) -> SimplifiedArtist {
        SimplifiedArtist {
            external_urls: external("artist", &a.id),
            href: format!("{}/v1/artists/{}", self.base_url, a.id),
            id: a.id.clone(),
            name: a.name.clone(),
            kind: "artist",
            uri: format!("spotify:artist:{}", a.id),
        }
    }

    /// An album; `group` is the album's relation to the artist whose albums are listed.
    pub(crate) fn album(
        &self,
        catalog: &Catalog,
        album: &CatalogAlbum,
        group: Option<&'static str>,
    ) -> AlbumJson {
        AlbumJson {
            album_type: album.album_type(),
            album_group: group,
            total_tracks: album.tracks.len(),
            external_urls: external("album", &album.id),
            href: format!("{}/v1/albums/{}", self.base_url, album.id),
            id: album.id.clone(),
            images: [],
            name: album.name.clone(),
            release_date: album.release_date.clone(),
            release_date_precision: album.precision.as_str(),
            kind: "album",
            uri: format!("spotify:album:{}", album.id),
            artists: vec![self.simplified_artist(catalog.artist_at(album.primary_artist))],
        }
    }

    pub(crate) fn track(&self, catalog: &Catalog, t: &CatalogTrack) -> TrackJson {
        TrackJson {
            album: self.album(catalog, catalog.album_at(t.album), None),
            artists: vec![self.simplified_artist(catalog.artist_at(t.artist))],
            duration_ms: t.duration_ms,
            explicit: false,
            external_urls: external("track", &t.id),
            href: format!("{}/v1/tracks/{}", self.base_url, t.id),
            id: t.id.clone(),
            is_local: false,
            name: t.name.clone(),
            popularity: (!self.dev_mode).then_some(t.popularity),
            preview_url: None,
            track_number: t.track_number,
            kind: "track",
            uri: format!("spotify:track:{}", t.id),
        }
    }

    pub(crate) fn audio_features(&self, t: &CatalogTrack) -> AudioFeaturesJson {
        let f = &t.features;
        AudioFeaturesJson {
            acousticness: f.acousticness,
            analysis_url: format!("{}/v1/audio-analysis/{}", self.base_url, t.id),
            danceability: f.danceability,
            duration_ms: t.duration_ms,
            energy: f.energy,
            id: t.id.clone(),
            instrumentalness: f.instrumentalness,
            key: f.key,
            liveness: f.liveness,
            loudness: f.loudness,
            mode: f.mode,
            speechiness: f.speechiness,
            tempo: f.tempo,
            track_href: format!("{}/v1/tracks/{}", self.base_url, t.id),
            kind: "audio_features",
            uri: format!("spotify:track:{}", t.id),
            valence: f.valence,
        }
    }
}
