//! One similarity run's whole datamart, held compactly for a catalog-scale load.
//!
//! At a million artists a run writes ten million rows. As [`RelatedArtist`]s (two id
//! strings and a date string each) they would take about 180 bytes a row, close to 2 GB;
//! here every artist id is stored once and a row is two indexes into them, a rank and a
//! distance (24 bytes), with one snapshot label for the whole run.

use crate::{ArtistId, RelatedArtist};

/// One row of a [`RelatedSnapshot`]: `related` is the `rank`-th nearest artist to
/// `artist`, both indexes into the snapshot's ids.
#[derive(Debug, Clone, Copy, PartialEq)]
struct IndexedRow {
    artist: u32,
    related: u32,
    rank: u32,
    distance: f64,
}

/// A row of a [`RelatedSnapshot`] as the stores write it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelatedRowRef<'a> {
    pub artist_id: &'a ArtistId,
    /// 1 = nearest.
    pub rank: u32,
    pub related_id: &'a ArtistId,
    /// Euclidean distance on the standardized profile.
    pub distance: f64,
}

/// Why rows could not become one [`RelatedSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Every row of one datamart snapshot carries the same label.
    #[error("one datamart snapshot mixes the labels {first:?} and {other:?}")]
    MixedLabels { first: String, other: String },
    /// A row names an artist index the snapshot does not hold.
    #[error("row names artist index {index}, but the snapshot holds {ids} ids")]
    UnknownIndex { index: u32, ids: usize },
    /// More distinct artists than an index can name.
    #[error("a snapshot holds at most {} artists", u32::MAX)]
    TooManyArtists,
}

/// The datamart of one similarity run: every row of the related-artists table, to be
/// swapped in as a whole ([`RelatedArtist`] is one such row as a reader sees it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RelatedSnapshot {
    /// The run's date in Asia/Seoul, `YYYY-MM-DD` (checked by the store that writes it).
    snapshot: String,
    ids: Vec<ArtistId>,
    rows: Vec<IndexedRow>,
}

impl RelatedSnapshot {
    /// An empty snapshot labelled `snapshot` over the artists `ids` (rows name them by
    /// position); `rows_hint` rows are reserved.
    pub fn new(
        snapshot: impl Into<String>,
        ids: Vec<ArtistId>,
        rows_hint: usize,
    ) -> Result<Self, SnapshotError> {
        if u32::try_from(ids.len()).is_err() {
            return Err(SnapshotError::TooManyArtists);
        }
        Ok(Self {
            snapshot: snapshot.into(),
            ids,
            rows: Vec::with_capacity(rows_hint),
        })
    }

    /// Interns the ids of `rows` (for tests and small datamarts; the job builds the
    /// snapshot from its artist table directly). All rows must carry one label.
    pub fn from_rows(rows: &[RelatedArtist]) -> Result<Self, SnapshotError> {
        let label = rows.first().map(|r| r.snapshot.clone()).unwrap_or_default();
        let mut ids = Vec::new();
        let mut position = std::collections::HashMap::new();
        let mut intern = |id: &ArtistId| -> Result<u32, SnapshotError> {
            if let Some(&at) = position.get(id) {
                return Ok(at);
            }
            let at = u32::try_from(ids.len()).map_err(|_| SnapshotError::TooManyArtists)?;
            ids.push(id.clone());
            position.insert(id.clone(), at);
            Ok(at)
        };
        let mut indexed = Vec::with_capacity(rows.len());
        for row in rows {
            if row.snapshot != label {
                return Err(SnapshotError::MixedLabels {
                    first: label,
                    other: row.snapshot.clone(),
                });
            }
            indexed.push(IndexedRow {
                artist: intern(&row.artist_id)?,
                related: intern(&row.related_id)?,
                rank: row.rank,
                distance: row.distance,
            });
        }
        Ok(Self {
            snapshot: label,
            ids,
            rows: indexed,
        })
    }

    /// Adds the row "`related` is the `rank`-th nearest artist to `artist`".
    pub fn push(
        &mut self,
        artist: u32,
        rank: u32,
        related: u32,
        distance: f64,
    ) -> Result<(), SnapshotError> {
        for index in [artist, related] {
            if index as usize >= self.ids.len() {
                return Err(SnapshotError::UnknownIndex {
                    index,
                    ids: self.ids.len(),
                });
            }
        }
        self.rows.push(IndexedRow {
            artist,
            related,
            rank,
            distance,
        });
        Ok(())
    }

    /// The snapshot label: the run's date, `YYYY-MM-DD`.
    pub fn label(&self) -> &str {
        &self.snapshot
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the snapshot has no row (replacing the datamart with it empties it).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Rows `range` (of `0..len()`), in the order they were added.
    pub fn rows_in(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl ExactSizeIterator<Item = RelatedRowRef<'_>> + '_ {
        self.rows[range].iter().map(|row| RelatedRowRef {
            artist_id: &self.ids[row.artist as usize],
            rank: row.rank,
            related_id: &self.ids[row.related as usize],
            distance: row.distance,
        })
    }

    /// Every row, in the order they were added.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = RelatedRowRef<'_>> + '_ {
        self.rows_in(0..self.rows.len())
    }

    /// The rows in consecutive ranges of at most `size` (at least 1), for batched inserts.
    pub fn batches(&self, size: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
        let size = size.max(1);
        let len = self.rows.len();
        (0..len)
            .step_by(size)
            .map(move |start| start..(start + size).min(len))
    }

    /// The rows as [`RelatedArtist`]s (for tests and exports of small datamarts).
    pub fn to_related_artists(&self) -> Vec<RelatedArtist> {
        self.rows()
            .map(|row| RelatedArtist {
                artist_id: row.artist_id.clone(),
                rank: row.rank,
                related_id: row.related_id.clone(),
                distance: row.distance,
                snapshot: self.snapshot.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ArtistId {
        ArtistId::try_from(format!("{:0>22}", n)).unwrap()
    }

    fn row(a: u8, rank: u32, b: u8, label: &str) -> RelatedArtist {
        RelatedArtist {
            artist_id: id(a),
            rank,
            related_id: id(b),
            distance: f64::from(rank) / 10.0,
            snapshot: label.into(),
        }
    }

    #[test]
    fn rows_round_trip_through_interned_ids() {
        let rows = vec![
            row(1, 1, 2, "2026-12-04"),
            row(1, 2, 3, "2026-12-04"),
            row(2, 1, 1, "2026-12-04"),
            row(3, 1, 9, "2026-12-04"),
        ];
        let snapshot = RelatedSnapshot::from_rows(&rows).unwrap();
        assert_eq!(snapshot.len(), 4);
        assert_eq!(snapshot.ids.len(), 4, "each id once: 1, 2, 3, 9");
        assert_eq!(snapshot.label(), "2026-12-04");
        assert_eq!(snapshot.to_related_artists(), rows);
        let batches: Vec<_> = snapshot.batches(3).collect();
        assert_eq!(batches, vec![0..3, 3..4]);
        assert_eq!(snapshot.rows_in(3..4).next().unwrap().related_id, &id(9));
    }

    #[test]
    fn one_label_per_snapshot_and_known_indexes_only() {
        let mixed = [row(1, 1, 2, "2026-12-04"), row(2, 1, 1, "2026-12-05")];
        assert!(matches!(
            RelatedSnapshot::from_rows(&mixed),
            Err(SnapshotError::MixedLabels { .. })
        ));
        let mut snapshot = RelatedSnapshot::new("2026-12-04", vec![id(1), id(2)], 2).unwrap();
        snapshot.push(0, 1, 1, 0.5).unwrap();
        assert_eq!(
            snapshot.push(0, 2, 2, 0.5),
            Err(SnapshotError::UnknownIndex { index: 2, ids: 2 })
        );
        assert_eq!(snapshot.len(), 1);
        assert!(RelatedSnapshot::from_rows(&[]).unwrap().is_empty());
    }
}
