//! encore's domain: what an artist, a track and its audio features are, how a name the
//! user typed is matched, and the events the pipeline passes between its services.
//!
//! This crate knows no AWS, no database and no HTTP: adapters convert into these types.

pub mod calendar;
pub mod datamart;
pub mod events;
pub mod ids;
pub mod model;
pub mod normalize;
pub mod release;
pub mod suggest;

pub use calendar::{service_date, SERVICE_TZ};
pub use datamart::{RelatedRowRef, RelatedSnapshot, SnapshotError};
pub use ids::{ArtistId, IdError, TrackId, MAX_ID_LEN};
pub use model::{
    Artist, AudioFeatures, FeatureSource, RelatedArtist, Track, FEATURES_MISSING, FEATURE_NAMES,
    TOP_TRACKS_PER_ARTIST,
};
pub use normalize::{is_blank, normalize, NormalizedName};
pub use release::{Release, ReleaseDate};
