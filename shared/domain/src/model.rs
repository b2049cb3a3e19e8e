//! The catalog data encore keeps about an artist.

use serde::{Deserialize, Serialize};

use crate::{ArtistId, NormalizedName, TrackId};

/// How many top tracks encore keeps per artist (Spotify's top-tracks list): ranks run from
/// 1 to this. The one definition: fetching, the stand-in, the cache, the lake and
/// similarity all use it.
pub const TOP_TRACKS_PER_ARTIST: u32 = 10;

/// A performer as the catalog knows it. Optional fields are the ones Spotify no longer
/// returns to every app (popularity, followers and genres are gone in Development Mode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artist {
    /// Spotify artist id (22 base62 characters).
    pub id: ArtistId,
    /// The name as the catalog spells it.
    pub name: String,
    #[serde(default)]
    pub popularity: Option<u32>,
    #[serde(default)]
    pub followers: Option<u64>,
    #[serde(default)]
    pub genres: Vec<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub spotify_url: Option<String>,
}

impl Artist {
    /// The key the chat matches user input against.
    pub fn normalized_name(&self) -> NormalizedName {
        NormalizedName::of(&self.name)
    }
}

/// One of an artist's top tracks, at its rank (1 = most popular).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    /// Spotify track id.
    pub id: TrackId,
    pub name: String,
    /// The artist whose top track this is.
    pub artist_id: ArtistId,
    /// 1-based position in the artist's top tracks.
    pub rank: u32,
    #[serde(default)]
    pub album_name: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub popularity: Option<u32>,
    #[serde(default)]
    pub duration_ms: Option<u32>,
    #[serde(default)]
    pub spotify_url: Option<String>,
    /// Where the track's audio features came from; `None`: they are missing (also in
    /// events and cache entries written before provenance was kept).
    #[serde(default)]
    pub features_source: Option<FeatureSource>,
}

/// Where a track's audio features came from. Both sources measure on Spotify's scales,
/// so similarity uses either alike; a track with neither has its features missing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureSource {
    /// Spotify's `GET /audio-features` (the default: every feature recorded before
    /// provenance was kept came from Spotify).
    #[default]
    Spotify,
    /// ReccoBeats' `GET /v1/audio-features`, asked for what Spotify refused or left out.
    Reccobeats,
}

impl FeatureSource {
    /// The stable label used in events, the cache and the lake.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spotify => "spotify",
            Self::Reccobeats => "reccobeats",
        }
    }

    /// The label of a track's features: their source, or `missing` when it has none.
    pub fn label(source: Option<Self>) -> &'static str {
        source.map_or(FEATURES_MISSING, Self::as_str)
    }

    /// The inverse of [`FeatureSource::label`]; an error names an unknown label.
    pub fn from_label(label: &str) -> Result<Option<Self>, String> {
        match label {
            "spotify" => Ok(Some(Self::Spotify)),
            "reccobeats" => Ok(Some(Self::Reccobeats)),
            FEATURES_MISSING => Ok(None),
            other => Err(format!("{other:?} is not a feature source")),
        }
    }
}

/// The provenance label of a track without audio features.
pub const FEATURES_MISSING: &str = "missing";

/// The audio analysis of one track (Spotify's, or ReccoBeats' on the same scales).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioFeatures {
    pub track_id: TrackId,
    pub danceability: f64,
    pub energy: f64,
    /// Pitch class 0..11, or -1 when none was detected.
    pub key: i32,
    /// dB, roughly -60..0.
    pub loudness: f64,
    /// 1 major, 0 minor.
    pub mode: i32,
    pub speechiness: f64,
    pub acousticness: f64,
    pub instrumentalness: f64,
    pub liveness: f64,
    pub valence: f64,
    /// Beats per minute.
    pub tempo: f64,
    #[serde(default)]
    pub duration_ms: Option<u32>,
    #[serde(default)]
    pub time_signature: Option<i32>,
    /// Which service measured them (absent in events written before provenance was
    /// kept, which all came from Spotify).
    #[serde(default)]
    pub source: FeatureSource,
}

/// The nine features similarity compares artists on, in the order the engine uses.
pub const FEATURE_NAMES: [&str; 9] = [
    "danceability",
    "energy",
    "loudness",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
];

impl AudioFeatures {
    /// Records on each of `tracks` where its features came from, by `features` (those
    /// without an entry are missing).
    pub fn mark_sources(tracks: &mut [Track], features: &[Self]) {
        for track in tracks {
            track.features_source = features
                .iter()
                .find(|f| f.track_id == track.id)
                .map(|f| f.source);
        }
    }

    /// The values of [`FEATURE_NAMES`], in that order.
    pub fn similarity_vector(&self) -> [f64; 9] {
        [
            self.danceability,
            self.energy,
            self.loudness,
            self.speechiness,
            self.acousticness,
            self.instrumentalness,
            self.liveness,
            self.valence,
            self.tempo,
        ]
    }
}

/// One row of the datamart: `related_id` is the `rank`-th nearest artist to `artist_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelatedArtist {
    pub artist_id: ArtistId,
    /// 1 = nearest.
    pub rank: u32,
    pub related_id: ArtistId,
    /// Euclidean distance on standardized features.
    pub distance: f64,
    /// The date (Asia/Seoul) of the similarity run that produced the row, `YYYY-MM-DD`.
    pub snapshot: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_source_labels_round_trip() {
        for source in [
            None,
            Some(FeatureSource::Spotify),
            Some(FeatureSource::Reccobeats),
        ] {
            assert_eq!(
                FeatureSource::from_label(FeatureSource::label(source)),
                Ok(source)
            );
        }
        assert_eq!(FeatureSource::label(None), "missing");
        assert!(FeatureSource::from_label("lastfm").is_err());
        assert_eq!(
            serde_json::to_value(FeatureSource::Reccobeats).unwrap(),
            serde_json::json!("reccobeats")
        );
    }
}
