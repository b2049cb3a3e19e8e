//! The embedded relational store on SQLite: artists, aliases, the related-artists
//! datamart, the request log and the top-tracks cache in one database file.
//!
//! Timestamps are stored as fixed-width RFC 3339 text in UTC (milliseconds, `Z`), so text
//! comparison orders them like time.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use encore_domain::suggest::KnownName;
use encore_domain::{
    Artist, ArtistId, FeatureSource, NormalizedName, RelatedArtist, RelatedSnapshot, Release, Track,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use crate::migrate::tables::{
    ARTISTS, ARTIST_ALIASES, ARTIST_REQUESTS, DATAMART_WATERMARK, LATEST_RELEASES, RELATED_ARTISTS,
    TOP_TRACKS,
};
use crate::ports::{
    check_top_tracks, distinct, known_names_sql, snapshot_date, stored_artist_id, stored_track_id,
};
use crate::{
    ArtistStore, BackendError, DatamartWatermark, RelatedRow, RelatedStore, RequestLog,
    RequestRecord, RequestStatus, TopTracksCache,
};

/// How long a writer waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections to a database file for writes (and the queues): WAL lets readers run
/// beside the one writer.
const MAX_CONNECTIONS: u32 = 4;
/// Read-only connections the lookups use (the chat's reads), so an answer never waits for a
/// connection behind background writers (ingest, the queues, the datamart load).
const READ_CONNECTIONS: u32 = 4;
/// SQLite's default limit on bound parameters in one statement (`SQLITE_MAX_VARIABLE_NUMBER`).
const MAX_VARIABLES: usize = 32_766;
/// Columns of one `related_artists` row.
const RELATED_COLUMNS: usize = 5;
/// Rows per multi-row INSERT while loading the datamart.
const RELATED_ROWS_PER_INSERT: usize = 5_000;
const _: () = assert!(RELATED_ROWS_PER_INSERT * RELATED_COLUMNS <= MAX_VARIABLES);
/// Ids per `IN (…)` list when reading by id.
const IDS_PER_QUERY: usize = 1_000;
const _: () = assert!(IDS_PER_QUERY <= MAX_VARIABLES);

/// The stored spelling of a timestamp.
fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads a stored timestamp back.
fn parsed_timestamp(raw: &str) -> Result<DateTime<Utc>, BackendError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| BackendError::corrupt(format!("timestamp {raw:?}: {e}")))
}

/// The artist columns every artist query selects, in [`artist_from_row`]'s order.
fn artist_columns(alias: &str) -> String {
    format!(
        "{alias}.id, {alias}.name, {alias}.popularity, {alias}.followers, {alias}.genres, \
         {alias}.image_url, {alias}.spotify_url"
    )
}

/// Reads an optional non-negative integer column into the domain's unsigned type.
fn optional_unsigned<T: TryFrom<i64>>(
    row: &SqliteRow,
    column: &str,
) -> Result<Option<T>, BackendError> {
    let raw: Option<i64> = row.try_get(column)?;
    raw.map(|n| {
        T::try_from(n).map_err(|_| BackendError::corrupt(format!("{column} {n} is out of range")))
    })
    .transpose()
}

/// Reads a non-negative integer column that fits `u32` (ranks).
fn unsigned(row: &SqliteRow, column: &str) -> Result<u32, BackendError> {
    let raw: i64 = row.try_get(column)?;
    u32::try_from(raw).map_err(|_| BackendError::corrupt(format!("{column} {raw} is out of range")))
}

fn artist_from_row(row: &SqliteRow) -> Result<Artist, BackendError> {
    let genres: String = row.try_get("genres")?;
    Ok(Artist {
        id: stored_artist_id(row.try_get("id")?)?,
        name: row.try_get("name")?,
        popularity: optional_unsigned(row, "popularity")?,
        followers: optional_unsigned(row, "followers")?,
        genres: serde_json::from_str(&genres).map_err(|e| {
            BackendError::corrupt(format!("genres of an artist are not a JSON list: {e}"))
        })?,
        image_url: row.try_get("image_url")?,
        spotify_url: row.try_get("spotify_url")?,
    })
}

/// Every store port on one SQLite database: the embedded default. Writes go through one
/// pool, reads through a pool of read-only connections (WAL readers).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating it if needed) the database file at `path` in WAL mode with a busy
    /// timeout, and applies the migrations.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, BackendError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options.clone())
            .await?;
        crate::migrate::sqlite(&pool).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .connect_with(options.create_if_missing(false).read_only(true))
            .await?;
        Ok(Self { pool, reader })
    }

    /// A private in-memory database (tests): one connection, gone when the store is dropped.
    pub async fn in_memory() -> Result<Self, BackendError> {
        let options = SqliteConnectOptions::new().in_memory(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        Self::migrated(pool).await
    }

    async fn migrated(pool: SqlitePool) -> Result<Self, BackendError> {
        crate::migrate::sqlite(&pool).await?;
        Ok(Self {
            reader: pool.clone(),
            pool,
        })
    }

    /// The underlying pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// How much the store holds, for `encore status`.
    pub async fn counts(&self) -> Result<StoreCounts, BackendError> {
        let count = |sql: &'static str| async move {
            let n: i64 = sqlx::query_scalar(sql).fetch_one(&self.pool).await?;
            u64::try_from(n)
                .map_err(|_| BackendError::corrupt(format!("negative count from {sql}")))
        };
        Ok(StoreCounts {
            artists: count("SELECT COUNT(*) FROM artists").await?,
            related_rows: count("SELECT COUNT(*) FROM related_artists").await?,
            cached_artists: count("SELECT COUNT(DISTINCT artist_id) FROM top_tracks").await?,
        })
    }
}

/// Row counts of the embedded store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct StoreCounts {
    /// Artists stored.
    pub artists: u64,
    /// Rows of the related-artists datamart.
    pub related_rows: u64,
    /// Artists with cached top tracks.
    pub cached_artists: u64,
}

#[async_trait]
impl ArtistStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(artist_id = %artist.id))]
    async fn upsert_artist(&self, artist: &Artist) -> Result<(), BackendError> {
        let genres = serde_json::to_string(&artist.genres)
            .map_err(|e| BackendError::rejected(e.to_string()))?;
        let followers = artist
            .followers
            .map(i64::try_from)
            .transpose()
            .map_err(|_| {
                BackendError::rejected(format!(
                    "followers of {} exceed SQLite's integers",
                    artist.id
                ))
            })?;
        sqlx::query(&format!(
            "INSERT INTO {ARTISTS} \
             (id, name, normalized_name, popularity, followers, genres, image_url, spotify_url, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, normalized_name = excluded.normalized_name, \
             popularity = excluded.popularity, followers = excluded.followers, genres = excluded.genres, \
             image_url = excluded.image_url, spotify_url = excluded.spotify_url, updated_at = excluded.updated_at"
        ))
        .bind(artist.id.as_str())
        .bind(&artist.name)
        .bind(artist.normalized_name().into_string())
        .bind(artist.popularity)
        .bind(followers)
        .bind(genres)
        .bind(&artist.image_url)
        .bind(&artist.spotify_url)
        .bind(timestamp(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip(self))]
    async fn put_alias(
        &self,
        alias: &NormalizedName,
        artist_id: &ArtistId,
    ) -> Result<(), BackendError> {
        sqlx::query(&format!(
            "INSERT INTO {ARTIST_ALIASES} (alias, artist_id, created_at) VALUES (?, ?, ?) \
             ON CONFLICT (alias) DO UPDATE SET artist_id = excluded.artist_id, created_at = excluded.created_at \
             WHERE artist_id <> excluded.artist_id"
        ))
        .bind(alias.as_str())
        .bind(artist_id.as_str())
        .bind(timestamp(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip(self))]
    async fn find_artist(
        &self,
        normalized: &NormalizedName,
    ) -> Result<Option<Artist>, BackendError> {
        // A catalog name beats an alias; among several artists with one name, the most popular.
        let row = sqlx::query(&format!(
            "SELECT * FROM ( \
               SELECT 0 AS via_alias, {by_name} FROM {ARTISTS} a WHERE a.normalized_name = ?1 \
               UNION ALL \
               SELECT 1 AS via_alias, {by_alias} FROM {ARTIST_ALIASES} al JOIN {ARTISTS} a ON a.id = al.artist_id \
               WHERE al.alias = ?1 \
             ) ORDER BY via_alias, popularity DESC, id LIMIT 1",
            by_name = artist_columns("a"),
            by_alias = artist_columns("a"),
        ))
        .bind(normalized.as_str())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(artist_from_row).transpose()
    }

    #[tracing::instrument(skip_all, fields(ids = ids.len()))]
    async fn artists(&self, ids: &[ArtistId]) -> Result<Vec<Artist>, BackendError> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in distinct(ids).chunks(IDS_PER_QUERY) {
            let mut query = QueryBuilder::<Sqlite>::new(format!(
                "SELECT {} FROM {ARTISTS} a WHERE a.id IN (",
                artist_columns("a")
            ));
            let mut list = query.separated(", ");
            for id in chunk {
                list.push_bind(id.as_str());
            }
            query.push(")");
            for row in query.build().fetch_all(&self.reader).await? {
                found.push(artist_from_row(&row)?);
            }
        }
        Ok(found)
    }

    #[tracing::instrument(skip(self))]
    async fn known_names(&self) -> Result<Vec<KnownName>, BackendError> {
        let rows = sqlx::query(&known_names_sql())
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(KnownName {
                    key: row.try_get("name_key")?,
                    display: row.try_get("name")?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl RelatedStore for SqliteStore {
    #[tracing::instrument(skip(self))]
    async fn related_artist_count(&self) -> Result<u64, BackendError> {
        let count: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(DISTINCT artist_id) FROM {RELATED_ARTISTS}"
        ))
        .fetch_one(&self.reader)
        .await?;
        u64::try_from(count)
            .map_err(|_| BackendError::corrupt(format!("negative datamart count {count}")))
    }

    #[tracing::instrument(skip(self))]
    async fn related(
        &self,
        artist_id: &ArtistId,
        limit: u32,
    ) -> Result<Vec<(RelatedArtist, Artist)>, BackendError> {
        let rows = sqlx::query(&format!(
            "SELECT r.artist_id AS source_id, r.rank, r.related_id, r.distance, r.snapshot, {} \
             FROM {RELATED_ARTISTS} r JOIN {ARTISTS} a ON a.id = r.related_id \
             WHERE r.artist_id = ? ORDER BY r.rank LIMIT ?",
            artist_columns("a")
        ))
        .bind(artist_id.as_str())
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                let related = RelatedArtist {
                    artist_id: stored_artist_id(row.try_get("source_id")?)?,
                    rank: unsigned(row, "rank")?,
                    related_id: stored_artist_id(row.try_get("related_id")?)?,
                    distance: row.try_get("distance")?,
                    snapshot: row.try_get("snapshot")?,
                };
                Ok((related, artist_from_row(row)?))
            })
            .collect()
    }

    /// One transaction: readers (WAL) see the previous snapshot until it commits.
    #[tracing::instrument(skip_all, fields(rows = related.len()))]
    async fn replace_related(&self, related: &RelatedSnapshot) -> Result<(), BackendError> {
        let label = if related.is_empty() {
            String::new()
        } else {
            snapshot_date(related)?.format("%Y-%m-%d").to_string()
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!("DELETE FROM {RELATED_ARTISTS}"))
            .execute(&mut *tx)
            .await?;
        for batch in related.batches(RELATED_ROWS_PER_INSERT) {
            let mut insert = QueryBuilder::<Sqlite>::new(format!(
                "INSERT INTO {RELATED_ARTISTS} (artist_id, rank, related_id, distance, snapshot) "
            ));
            insert.push_values(related.rows_in(batch), |mut values, row| {
                values
                    .push_bind(row.artist_id.as_str())
                    .push_bind(row.rank)
                    .push_bind(row.related_id.as_str())
                    .push_bind(row.distance)
                    .push_bind(label.as_str());
            });
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip(self))]
    async fn export_related(&self) -> Result<Vec<RelatedRow>, BackendError> {
        let rows = sqlx::query(&format!(
            "SELECT r.artist_id, src.name AS artist_name, r.rank, r.related_id, dst.name AS related_name, r.distance \
             FROM {RELATED_ARTISTS} r \
             JOIN {ARTISTS} src ON src.id = r.artist_id \
             JOIN {ARTISTS} dst ON dst.id = r.related_id \
             ORDER BY r.artist_id, r.rank"
        ))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RelatedRow {
                    artist_id: stored_artist_id(row.try_get("artist_id")?)?,
                    artist_name: row.try_get("artist_name")?,
                    rank: unsigned(row, "rank")?,
                    related_id: stored_artist_id(row.try_get("related_id")?)?,
                    related_name: row.try_get("related_name")?,
                    distance: row.try_get("distance")?,
                })
            })
            .collect()
    }
}

/// Parses a stored timestamp ([`timestamp`]'s RFC 3339 text).
fn parse_timestamp(raw: &str) -> Result<DateTime<Utc>, BackendError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| BackendError::corrupt(format!("stored time {raw:?} is not RFC 3339: {e}")))
}

#[async_trait]
impl DatamartWatermark for SqliteStore {
    #[tracing::instrument(skip(self))]
    async fn last_ingested_at(&self) -> Result<Option<DateTime<Utc>>, BackendError> {
        let raw: Option<String> =
            sqlx::query_scalar(&format!("SELECT MAX(updated_at) FROM {ARTISTS}"))
                .fetch_one(&self.pool)
                .await?;
        raw.as_deref().map(parse_timestamp).transpose()
    }

    #[tracing::instrument(skip(self))]
    async fn datamart_read_at(&self) -> Result<Option<DateTime<Utc>>, BackendError> {
        let raw: Option<String> = sqlx::query_scalar(&format!(
            "SELECT read_at FROM {DATAMART_WATERMARK} WHERE id = 1"
        ))
        .fetch_optional(&self.pool)
        .await?;
        raw.as_deref().map(parse_timestamp).transpose()
    }

    #[tracing::instrument(skip(self))]
    async fn record_datamart_read_at(&self, at: DateTime<Utc>) -> Result<(), BackendError> {
        sqlx::query(&format!(
            "INSERT INTO {DATAMART_WATERMARK} (id, read_at) VALUES (1, ?) \
             ON CONFLICT (id) DO UPDATE SET read_at = MAX(read_at, excluded.read_at)"
        ))
        .bind(timestamp(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl RequestLog for SqliteStore {
    #[tracing::instrument(skip(self))]
    async fn claim(
        &self,
        normalized: &NormalizedName,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<bool, BackendError> {
        let window = chrono::Duration::from_std(window)
            .map_err(|e| BackendError::rejected(e.to_string()))?;
        // Insert, or take over a finished or stale request; a fresh pending one stays and
        // the statement changes no row.
        let claimed = sqlx::query(&format!(
            "INSERT INTO {ARTIST_REQUESTS} (normalized, status, requested_at, attempts, asked_at) VALUES (?1, ?2, ?3, 0, ?3) \
             ON CONFLICT (normalized) DO UPDATE SET status = excluded.status, requested_at = excluded.requested_at, \
             asked_at = excluded.asked_at, finished_at = NULL \
             WHERE status <> ?2 OR requested_at <= ?4"
        ))
        .bind(normalized.as_str())
        .bind(RequestStatus::Pending.as_str())
        .bind(timestamp(now))
        .bind(timestamp(now - window))
        .execute(&self.pool)
        .await?;
        Ok(claimed.rows_affected() > 0)
    }

    #[tracing::instrument(skip(self))]
    async fn finish(
        &self,
        normalized: &NormalizedName,
        status: RequestStatus,
    ) -> Result<(), BackendError> {
        sqlx::query(&format!(
            "INSERT INTO {ARTIST_REQUESTS} (normalized, status, requested_at, attempts, finished_at) VALUES (?1, ?2, ?3, 1, ?3) \
             ON CONFLICT (normalized) DO UPDATE SET status = excluded.status, attempts = attempts + 1, \
             finished_at = excluded.finished_at"
        ))
        .bind(normalized.as_str())
        .bind(status.as_str())
        .bind(timestamp(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip(self))]
    async fn record(
        &self,
        normalized: &NormalizedName,
    ) -> Result<Option<RequestRecord>, BackendError> {
        let row = sqlx::query(&format!(
            "SELECT status, requested_at, finished_at FROM {ARTIST_REQUESTS} WHERE normalized = ?"
        ))
        .bind(normalized.as_str())
        .fetch_optional(&self.reader)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let status: String = row.try_get("status")?;
        let requested_at: String = row.try_get("requested_at")?;
        let finished_at: Option<String> = row.try_get("finished_at")?;
        Ok(Some(RequestRecord {
            status: RequestStatus::parse(&status).ok_or_else(|| {
                BackendError::corrupt(format!("unknown request status {status:?}"))
            })?,
            requested_at: parsed_timestamp(&requested_at)?,
            finished_at: finished_at.as_deref().map(parsed_timestamp).transpose()?,
        }))
    }

    #[tracing::instrument(skip(self))]
    async fn status(
        &self,
        normalized: &NormalizedName,
    ) -> Result<Option<RequestStatus>, BackendError> {
        let raw: Option<String> = sqlx::query_scalar(&format!(
            "SELECT status FROM {ARTIST_REQUESTS} WHERE normalized = ?"
        ))
        .bind(normalized.as_str())
        .fetch_optional(&self.reader)
        .await?;
        raw.map(|raw| {
            RequestStatus::parse(&raw)
                .ok_or_else(|| BackendError::corrupt(format!("unknown request status {raw:?}")))
        })
        .transpose()
    }

    #[tracing::instrument(skip(self))]
    async fn asked(
        &self,
        normalized: &NormalizedName,
        at: DateTime<Utc>,
    ) -> Result<(), BackendError> {
        // A name asked about without a request row is a known artist: recorded as done.
        sqlx::query(&format!(
            "INSERT INTO {ARTIST_REQUESTS} (normalized, status, requested_at, attempts, asked_at) VALUES (?1, ?2, ?3, 0, ?3) \
             ON CONFLICT (normalized) DO UPDATE SET asked_at = MAX(COALESCE(asked_at, ''), excluded.asked_at)"
        ))
        .bind(normalized.as_str())
        .bind(RequestStatus::Done.as_str())
        .bind(timestamp(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip(self))]
    async fn asked_since(&self, since: DateTime<Utc>) -> Result<Vec<NormalizedName>, BackendError> {
        let names: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT normalized FROM {ARTIST_REQUESTS} WHERE asked_at >= ? AND status <> ? ORDER BY normalized"
        ))
        .bind(timestamp(since))
        .bind(RequestStatus::NotFound.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(names.into_iter().map(NormalizedName::from_stored).collect())
    }
}

#[async_trait]
impl TopTracksCache for SqliteStore {
    #[tracing::instrument(skip(self, tracks), fields(tracks = tracks.len()))]
    async fn put_top_tracks(
        &self,
        artist_id: &ArtistId,
        tracks: &[Track],
        fetched_at: DateTime<Utc>,
    ) -> Result<(), BackendError> {
        check_top_tracks(artist_id, tracks)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!("DELETE FROM {TOP_TRACKS} WHERE artist_id = ?"))
            .bind(artist_id.as_str())
            .execute(&mut *tx)
            .await?;
        if !tracks.is_empty() {
            let fetched_at = timestamp(fetched_at);
            let mut insert = QueryBuilder::<Sqlite>::new(format!(
                "INSERT INTO {TOP_TRACKS} (artist_id, rank, track_id, name, album_name, image_url, popularity, \
                 duration_ms, spotify_url, features_source, fetched_at) "
            ));
            insert.push_values(tracks, |mut values, track| {
                values
                    .push_bind(artist_id.as_str())
                    .push_bind(track.rank)
                    .push_bind(track.id.as_str())
                    .push_bind(&track.name)
                    .push_bind(&track.album_name)
                    .push_bind(&track.image_url)
                    .push_bind(track.popularity)
                    .push_bind(track.duration_ms)
                    .push_bind(&track.spotify_url)
                    .push_bind(FeatureSource::label(track.features_source))
                    .push_bind(&fetched_at);
            });
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(artists = artist_ids.len()))]
    async fn top_tracks(
        &self,
        artist_ids: &[ArtistId],
    ) -> Result<HashMap<ArtistId, Vec<Track>>, BackendError> {
        let mut found: HashMap<ArtistId, Vec<Track>> = HashMap::new();
        for chunk in distinct(artist_ids).chunks(IDS_PER_QUERY) {
            let mut query = QueryBuilder::<Sqlite>::new(format!(
                "SELECT artist_id, rank, track_id, name, album_name, image_url, popularity, duration_ms, spotify_url, \
                 features_source FROM {TOP_TRACKS} WHERE artist_id IN ("
            ));
            let mut list = query.separated(", ");
            for id in chunk {
                list.push_bind(id.as_str());
            }
            query.push(") ORDER BY artist_id, rank");
            for row in query.build().fetch_all(&self.reader).await? {
                let track = Track {
                    id: stored_track_id(row.try_get("track_id")?)?,
                    name: row.try_get("name")?,
                    artist_id: stored_artist_id(row.try_get("artist_id")?)?,
                    rank: unsigned(&row, "rank")?,
                    album_name: row.try_get("album_name")?,
                    image_url: row.try_get("image_url")?,
                    popularity: optional_unsigned(&row, "popularity")?,
                    duration_ms: optional_unsigned(&row, "duration_ms")?,
                    spotify_url: row.try_get("spotify_url")?,
                    features_source: match row.try_get::<Option<String>, _>("features_source")? {
                        None => None,
                        Some(label) => FeatureSource::from_label(&label).map_err(|reason| {
                            BackendError::corrupt(format!("top_tracks.features_source: {reason}"))
                        })?,
                    },
                };
                found
                    .entry(track.artist_id.clone())
                    .or_default()
                    .push(track);
            }
        }
        Ok(found)
    }
    #[tracing::instrument(skip(self, releases), fields(releases = releases.len()))]
    async fn put_latest_releases(
        &self,
        artist_id: &ArtistId,
        releases: &[Release],
        fetched_at: DateTime<Utc>,
    ) -> Result<(), BackendError> {
        let json =
            serde_json::to_string(releases).map_err(|e| BackendError::rejected(e.to_string()))?;
        sqlx::query(&format!(
            "INSERT INTO {LATEST_RELEASES} (artist_id, releases, fetched_at) VALUES (?, ?, ?) \
             ON CONFLICT (artist_id) DO UPDATE SET releases = excluded.releases, fetched_at = excluded.fetched_at"
        ))
        .bind(artist_id.as_str())
        .bind(json)
        .bind(timestamp(fetched_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip(self))]
    async fn latest_releases(&self, artist_id: &ArtistId) -> Result<Vec<Release>, BackendError> {
        let json: Option<String> = sqlx::query_scalar(&format!(
            "SELECT releases FROM {LATEST_RELEASES} WHERE artist_id = ?"
        ))
        .bind(artist_id.as_str())
        .fetch_optional(&self.reader)
        .await?;
        json.map(|json| crate::ports::releases_from_json(artist_id, &json))
            .transpose()
            .map(Option::unwrap_or_default)
    }
}
