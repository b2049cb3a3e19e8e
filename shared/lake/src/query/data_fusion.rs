//! [`LakeSql`] on DataFusion over a local lake directory: the embedded twin of Athena,
//! running the same SQL over the same Parquet layout.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;

use super::decode::decode_batch;
use super::{LakeSql, ProfileRow, QueryError, QueryProgress, PROFILE_SQL};
use crate::tables::ALL_TABLES;

/// [`LakeSql`] over a lake directory laid out like the S3 bucket (`top-tracks/dt=…/`).
#[derive(Debug, Clone)]
pub struct DataFusionLakeSql {
    root: PathBuf,
}

impl DataFusionLakeSql {
    /// An engine over the lake directory `root` (it may be empty or not exist yet: the
    /// query then returns no rows).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The lake directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A session with every lake table registered. A table whose directory does not
    /// exist yet is registered over an empty directory listing all the same, so the SQL
    /// plans and yields nothing.
    async fn session(&self) -> Result<SessionContext, QueryError> {
        let root = std::path::absolute(&self.root)
            .map_err(|e| QueryError::DataFusion(datafusion::error::DataFusionError::IoError(e)))?;
        let ctx = SessionContext::new();
        let root_url = root.to_string_lossy();
        for table in ALL_TABLES {
            table.register(&ctx, &root_url).await?;
        }
        Ok(ctx)
    }
}

#[async_trait]
impl LakeSql for DataFusionLakeSql {
    #[tracing::instrument(name = "datafusion_profiles", skip_all, fields(root = %self.root.display()))]
    async fn artist_profiles(
        &self,
        progress: &dyn QueryProgress,
    ) -> Result<Vec<ProfileRow>, QueryError> {
        let ctx = self.session().await?;
        progress.state("RUNNING");
        let batches = ctx.sql(PROFILE_SQL).await?.collect().await?;
        progress.state("SUCCEEDED");
        let mut profiles = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
        for batch in &batches {
            decode_batch(batch, &mut profiles)?;
            progress.rows_read(profiles.len());
        }
        Ok(profiles)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use encore_domain::events::{ArtistIngested, EventMeta};
    use encore_domain::release::{AlbumType, Release, ReleaseDate};
    use encore_domain::{Artist, AudioFeatures, Track};

    use super::*;
    use crate::{write_batch, LakeBatch, LocalDirLake};

    /// A lake directory of its own, removed when the test ends.
    struct TempLake(PathBuf);

    impl TempLake {
        fn new() -> Self {
            Self(std::env::temp_dir().join(format!(
                "encore-lake-query-{}",
                uuid::Uuid::new_v4().simple()
            )))
        }
    }

    impl Drop for TempLake {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Features whose i-th similarity feature is `base + i`, so each mean is checkable.
    fn features(track_id: &str, base: f64) -> AudioFeatures {
        let f = |i: u8| base + f64::from(i);
        AudioFeatures {
            track_id: track_id.parse().unwrap(),
            danceability: f(0),
            energy: f(1),
            key: 5,
            loudness: f(2),
            mode: 1,
            speechiness: f(3),
            acousticness: f(4),
            instrumentalness: f(5),
            liveness: f(6),
            valence: f(7),
            tempo: f(8),
            duration_ms: Some(200_000),
            time_signature: Some(4),
            source: Default::default(),
        }
    }

    /// An ingest of `artist` at `at` with top `tracks`, of which those in `with` have features.
    fn ingest(artist: &str, at: &str, tracks: &[&str], with: &[(&str, f64)]) -> ArtistIngested {
        let mut meta = EventMeta::new(1);
        meta.occurred_at = at.parse::<DateTime<Utc>>().unwrap();
        ArtistIngested {
            meta,
            query: artist.into(),
            artist: Artist {
                id: artist.parse().unwrap(),
                name: artist.to_uppercase(),
                popularity: None,
                followers: None,
                genres: Vec::new(),
                image_url: None,
                spotify_url: None,
            },
            tracks: tracks
                .iter()
                .zip(1..)
                .map(|(id, rank)| Track {
                    id: (*id).parse().unwrap(),
                    name: format!("song {id}"),
                    artist_id: artist.parse().unwrap(),
                    rank,
                    album_name: None,
                    image_url: None,
                    popularity: Some(50),
                    duration_ms: None,
                    spotify_url: None,
                    features_source: None,
                })
                .collect(),
            features: with.iter().map(|(id, base)| features(id, *base)).collect(),
            releases: Vec::new(),
        }
    }

    /// A release `id` of type `album_type` out on `date` (any precision), without image.
    fn release(id: &str, date: &str, album_type: AlbumType) -> Release {
        Release {
            id: id.into(),
            name: format!("release {id}"),
            album_type,
            release_date: ReleaseDate::parse(date).unwrap(),
            image_url: None,
            spotify_url: Some(format!("https://open.spotify.com/album/{id}")),
            primary_artist: true,
            total_tracks: None,
        }
    }

    async fn write(lake: &LocalDirLake, events: &[&ArtistIngested]) {
        let mut batch = LakeBatch::new();
        for event in events {
            batch.add(event).unwrap();
        }
        write_batch(lake, &batch).await.unwrap();
    }

    fn profile(artist_id: &str, track_count: u32, base: f64) -> ProfileRow {
        ProfileRow {
            artist_id: artist_id.into(),
            track_count,
            features: std::array::from_fn(|i| base + i as f64),
        }
    }

    #[derive(Default)]
    struct Seen(std::sync::Mutex<Vec<String>>);

    impl QueryProgress for Seen {
        fn state(&self, state: &str) {
            self.0.lock().unwrap().push(state.to_owned());
        }
        fn rows_read(&self, rows: usize) {
            self.0.lock().unwrap().push(format!("rows {rows}"));
        }
    }

    #[tokio::test]
    async fn latest_snapshot_per_artist_across_days_with_deduplicated_features() {
        let dir = TempLake::new();
        let lake = LocalDirLake::new(&dir.0);
        // a1: an old snapshot (t1, t2) then the latest (t3, t4) two days later.
        let a1_old = ingest(
            "a1",
            "2026-11-20T01:00:00Z",
            &["t1", "t2"],
            &[("t1", 1.0), ("t2", 3.0)],
        );
        let a1_new = ingest(
            "a1",
            "2026-11-22T01:00:00Z",
            &["t3", "t4"],
            &[("t3", 5.0), ("t4", 7.0)],
        );
        // a2: ingested on another day only; t7 has no features.
        let a2 = ingest(
            "a2",
            "2026-11-21T01:00:00Z",
            &["t5", "t6", "t7"],
            &[("t5", 2.0), ("t6", 4.0)],
        );
        // a3: no track has features: absent from the result.
        let a3 = ingest("a3", "2026-11-21T02:00:00Z", &["t8"], &[]);
        // a4 shares t3 with a1: t3's features appear twice, identical.
        let a4 = ingest(
            "a4",
            "2026-11-22T02:00:00Z",
            &["t3", "t9"],
            &[("t3", 5.0), ("t9", 1.0)],
        );
        // a5 re-fetched t5 later with new values: the latest row of t5 counts, for a2 too.
        let a5 = ingest("a5", "2026-11-22T03:00:00Z", &["t5"], &[("t5", 6.0)]);
        write(&lake, &[&a1_old, &a2, &a3]).await;
        write(&lake, &[&a1_new, &a4]).await;
        // a1's latest event redelivered in another batch: its rows are in the lake twice.
        write(&lake, &[&a1_new, &a5]).await;

        let seen = Seen::default();
        let rows = DataFusionLakeSql::new(&dir.0)
            .artist_profiles(&seen)
            .await
            .unwrap();
        assert_eq!(
            rows,
            vec![
                profile("a1", 2, 6.0), // (5 + 7) / 2, not the old (1 + 3) / 2
                profile("a2", 2, 5.0), // (6 + 4) / 2 with t5's latest features, t7 skipped
                profile("a4", 2, 3.0), // (5 + 1) / 2, t3 counted once
                profile("a5", 1, 6.0),
            ]
        );
        let seen = seen.0.into_inner().unwrap();
        assert_eq!(seen.first().map(String::as_str), Some("RUNNING"));
        assert_eq!(seen.last().map(String::as_str), Some("rows 4"));
    }

    #[tokio::test]
    async fn an_empty_or_half_written_lake_has_no_profiles() {
        let dir = TempLake::new();
        let engine = DataFusionLakeSql::new(&dir.0);
        assert_eq!(
            engine.artist_profiles(&()).await.unwrap(),
            Vec::new(),
            "no directory at all"
        );
        let lake = LocalDirLake::new(&dir.0);
        write(
            &lake,
            &[&ingest("a3", "2026-11-21T02:00:00Z", &["t8"], &[])],
        )
        .await;
        assert_eq!(
            engine.artist_profiles(&()).await.unwrap(),
            Vec::new(),
            "tracks but no features"
        );
    }

    #[tokio::test]
    async fn the_releases_table_answers_sql_with_each_artists_latest_snapshot() {
        let dir = TempLake::new();
        let lake = LocalDirLake::new(&dir.0);
        let mut a1_old = ingest("a1", "2026-11-20T01:00:00Z", &["t1"], &[]);
        a1_old.releases = vec![release("r1", "2025-12-24", AlbumType::Single)];
        let mut a1_new = ingest("a1", "2026-11-22T01:00:00Z", &["t1"], &[]);
        a1_new.releases = vec![
            release("r2", "2026-11", AlbumType::Album),
            release("r1", "2025-12-24", AlbumType::Single),
            release("r0", "2019", AlbumType::Album),
        ];
        a1_new.releases[0].total_tracks = Some(10);
        let mut a2 = ingest("a2", "2026-11-21T01:00:00Z", &["t2"], &[]);
        a2.releases = vec![release("s1", "2024", AlbumType::Single)];
        write(&lake, &[&a1_old, &a2]).await;
        write(&lake, &[&a1_new]).await;

        let ctx = DataFusionLakeSql::new(&dir.0).session().await.unwrap();
        let sql = "\
WITH snapshots AS (
    SELECT artist_id, event_id,
           row_number() OVER (PARTITION BY artist_id ORDER BY fetched_at DESC, event_id DESC) AS recency
    FROM (SELECT DISTINCT artist_id, event_id, fetched_at FROM releases) AS ingests
)
SELECT r.dt, r.artist_id, r.position, r.album_id, r.album_type, r.release_date,
       r.release_date_precision, r.total_tracks IS NULL AS no_count
FROM releases AS r
JOIN snapshots AS s ON s.artist_id = r.artist_id AND s.event_id = r.event_id
WHERE s.recency = 1
ORDER BY r.artist_id, r.position";
        let rows = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&rows)
            .unwrap()
            .to_string();
        let expected = "\
+------------+-----------+----------+----------+------------+--------------+------------------------+----------+
| dt         | artist_id | position | album_id | album_type | release_date | release_date_precision | no_count |
+------------+-----------+----------+----------+------------+--------------+------------------------+----------+
| 2026-11-22 | a1        | 1        | r2       | album      | 2026-11      | month                  | false    |
| 2026-11-22 | a1        | 2        | r1       | single     | 2025-12-24   | day                    | true     |
| 2026-11-22 | a1        | 3        | r0       | album      | 2019         | year                   | true     |
| 2026-11-21 | a2        | 1        | s1       | single     | 2024         | year                   | true     |
+------------+-----------+----------+----------+------------+--------------+------------------------+----------+";
        assert_eq!(text, expected);
    }
}
