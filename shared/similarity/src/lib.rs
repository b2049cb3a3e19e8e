//! Artist similarity: standardized audio profiles and an exact k-nearest-neighbour engine
//! using every core.
//!
//! The job feeds [`relate`] with per-artist mean profiles ([`ArtistProfile`]: an id, the
//! nine audio features, a track count — nothing else, so no label can reach it). The
//! engine standardizes each feature across artists ([`standardize`]) and computes the exact
//! top-k by Euclidean distance ([`exact_knn`]). Its benchmarks, synthetic data and the
//! quality evaluation (the only code that reads genre labels) live in `encore-bench`.

mod error;
mod knn;
mod points;
mod profile;
mod standardize;

pub use error::SimilarityError;
pub use knn::{
    brute_force_knn, exact_knn, exact_knn_with, KnnConfig, Neighbours, DEFAULT_K, MAX_LEAF_SIZE,
};
pub use points::{FeatureMatrix, Points};
pub use profile::{relate, ArtistProfile, Profile, Relations, COUNT_WEIGHT};
pub use standardize::{standardize, Scaling};
