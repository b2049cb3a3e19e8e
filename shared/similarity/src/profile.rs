//! The job's entry point: per-artist profiles in, related artists out.

use encore_domain::{ArtistId, RelatedSnapshot, FEATURE_NAMES};

use crate::{exact_knn, standardize, FeatureMatrix, Neighbours, Points, SimilarityError};

/// One artist as the lake query returns it: the mean of [`FEATURE_NAMES`] over its top
/// tracks and how many tracks were averaged. Deliberately nothing else: no genre or any
/// other label can be handed to the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtistProfile {
    /// Spotify artist id.
    pub artist_id: String,
    /// Mean audio features, in [`FEATURE_NAMES`] order.
    pub features: [f64; FEATURE_NAMES.len()],
    /// Number of tracks averaged into `features` (at least 1).
    pub track_count: u32,
}

/// How profiles become points before the exact Euclidean search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Profile {
    /// Z-score per feature, nothing else: what `encore bench knn` measures.
    Plain,
    /// Z-score, then each artist's point is pulled toward the mean artist by
    /// `tracks / (tracks + prior_tracks)`: a profile averaged over one or two tracks is
    /// noisy, and the pull keeps such artists from looking falsely extreme.
    Shrunk {
        /// Weight of the population mean, in tracks.
        prior_tracks: f64,
    },
    /// Z-score, plus one more coordinate, `weight / tracks`: the distance between two
    /// artists grows with how differently certain their profiles are. A profile averaged
    /// over one track is a noisy guess, so an artist with ten tracks is related to other
    /// well-measured artists first and to a one-track artist only when it is much closer;
    /// one-track artists still find each other. Uses the track count only, no label.
    CountAware {
        /// The coordinate of a one-track artist, in standard deviations.
        weight: f64,
    },
}

/// The weight of [`Profile::CountAware`] the daily job uses: the middle of the plateau
/// (2.5–5) where the quality evaluation measured its best agreement.
pub const COUNT_WEIGHT: f64 = 3.0;

impl Default for Profile {
    /// The profile the daily job uses: the one that measured best in the quality
    /// evaluation (`encore bench quality`) on the whole data set as the pool, [`Profile::CountAware`] with [`COUNT_WEIGHT`].
    fn default() -> Self {
        Profile::CountAware {
            weight: COUNT_WEIGHT,
        }
    }
}

/// Every artist's exact nearest artists.
#[derive(Debug, Clone, PartialEq)]
pub struct Relations {
    points: Points,
    neighbours: Neighbours,
}

impl Relations {
    /// Number of artists related.
    pub fn artists(&self) -> usize {
        self.points.len()
    }

    /// Every row as `(artist_id, rank, related_id, distance)`, rank 1 the nearest,
    /// artists in id order.
    pub fn rows(&self) -> impl Iterator<Item = (&str, u32, &str, f64)> + '_ {
        (0..self.neighbours.len()).flat_map(move |i| {
            self.neighbours
                .of(i)
                .enumerate()
                .map(move |(rank, (j, distance))| {
                    (
                        self.points.id(i),
                        rank as u32 + 1,
                        self.points.id(j),
                        distance,
                    )
                })
        })
    }

    /// The rows as the datamart snapshot labelled `snapshot` (the run's date), each artist
    /// id held once; fails when a profile's id is not an artist id (the engine relates any
    /// ids, the datamart only artists').
    pub fn to_snapshot(&self, snapshot: &str) -> Result<RelatedSnapshot, SimilarityError> {
        let ids = self
            .points
            .ids()
            .iter()
            .map(|id| ArtistId::try_from(id.as_str()))
            .collect::<Result<Vec<_>, _>>()?;
        let per_point = self.neighbours.per_point();
        let mut rows = RelatedSnapshot::new(snapshot, ids, self.neighbours.len() * per_point)?;
        for i in 0..self.neighbours.len() {
            for (rank, (j, distance)) in (1..).zip(self.neighbours.of(i)) {
                // Both are point indexes below the id count, which fits a u32 (checked above).
                rows.push(i as u32, rank, j as u32, distance)?;
            }
        }
        Ok(rows)
    }
}

/// Relates every artist to its `k` nearest (exact, self excluded, ties by id) under the
/// chosen profile. Fails on a non-finite feature or a repeated artist id.
pub fn relate(
    profiles: &[ArtistProfile],
    k: usize,
    profile: Profile,
) -> Result<Relations, SimilarityError> {
    let matrix = FeatureMatrix::from_rows(
        profiles
            .iter()
            .map(|p| (p.artist_id.clone(), p.features.to_vec())),
    )?;
    let (points, _) = standardize(&matrix)?;
    let tracks = || -> std::collections::HashMap<&str, u32> {
        profiles
            .iter()
            .map(|p| (p.artist_id.as_str(), p.track_count))
            .collect()
    };
    let points = match profile {
        Profile::Plain => points,
        Profile::Shrunk { prior_tracks } => {
            let tracks = tracks();
            shrink(
                &points,
                |id| tracks.get(id).copied().unwrap_or(1),
                prior_tracks,
            )?
        }
        Profile::CountAware { weight } => {
            let tracks = tracks();
            with_count(&points, |id| tracks.get(id).copied().unwrap_or(1), weight)?
        }
    };
    let neighbours = exact_knn(&points, k);
    Ok(Relations { points, neighbours })
}

/// Appends the coordinate `weight / tracks` to each standardized point.
pub(crate) fn with_count(
    points: &Points,
    tracks: impl Fn(&str) -> u32,
    weight: f64,
) -> Result<Points, SimilarityError> {
    let dims = points.dims() + 1;
    let mut values = Vec::with_capacity(points.len() * dims);
    for i in 0..points.len() {
        values.extend_from_slice(points.row(i));
        values.push(weight / f64::from(tracks(points.id(i)).max(1)));
    }
    Points::new(points.ids().to_vec(), dims, values)
}

/// Scales each standardized point by `tracks / (tracks + prior_tracks)`.
pub(crate) fn shrink(
    points: &Points,
    tracks: impl Fn(&str) -> u32,
    prior_tracks: f64,
) -> Result<Points, SimilarityError> {
    let mut values = Vec::with_capacity(points.values().len());
    for i in 0..points.len() {
        let n = f64::from(tracks(points.id(i)).max(1));
        let factor = n / (n + prior_tracks.max(0.0));
        values.extend(points.row(i).iter().map(|z| z * factor));
    }
    Points::new(points.ids().to_vec(), points.dims(), values)
}
