//! The relational store on MySQL / MariaDB (RDS in AWS): artists, aliases, the
//! related-artists datamart and the request log, with runtime-checked `sqlx` queries.
//!
//! Behind RDS Proxy a connection stays multiplexed only while it sends no prepared
//! statement, no session `SET` outside the variables the proxy tracks, no named lock and
//! no statement over 16 KB. So every query the chat and ingest functions make is SQL text
//! with inlined literals ([`crate::sql_text`]) over the text protocol, and a connection
//! sends nothing at connect: the options drop sqlx's `SET sql_mode…, time_zone…, NAMES…`
//! (the handshake already asks for utf8mb4, the columns are `DATETIME`, which no session
//! time zone converts, and the SQL relies on no `sql_mode`). Only the datamart swap
//! ([`RelatedStore::replace_related`], the similarity job) pins its connection: it holds a
//! named lock and loads with large prepared inserts, and gives the connection back after.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use encore_domain::suggest::KnownName;
use encore_domain::{Artist, ArtistId, NormalizedName, RelatedArtist, RelatedSnapshot};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions, MySqlRow};
use sqlx::{MySql, MySqlConnection, MySqlPool, QueryBuilder, Row};

use crate::migrate::tables::{
    ARTISTS, ARTIST_ALIASES, ARTIST_REQUESTS, DATAMART_WATERMARK, RELATED_ARTISTS,
    RELATED_ARTISTS_OLD, RELATED_ARTISTS_STAGING,
};
use crate::ports::{distinct, known_names_sql, snapshot_date, stored_artist_id};
use crate::sql_text::{inline, list, MAX_STATEMENT_BYTES};
use crate::{
    ArtistStore, BackendError, DatamartWatermark, RelatedRow, RelatedStore, RequestLog,
    RequestRecord, RequestStatus,
};

/// How long connecting (or waiting for a pooled connection) may take before the store is
/// reported unavailable: well inside the chat's five-second budget.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Connections per process unless the caller sizes the pool ([`MySqlStore::connect_sized`]).
const MAX_CONNECTIONS: u32 = 8;
/// MySQL's limit on placeholders in one prepared statement.
const MAX_PLACEHOLDERS: usize = 65_535;
/// Columns of one `related_artists` row.
const RELATED_COLUMNS: usize = 5;
/// Rows per multi-row INSERT while loading the datamart (about 1 MB per statement).
const RELATED_ROWS_PER_INSERT: usize = 10_000;
const _: () = assert!(RELATED_ROWS_PER_INSERT * RELATED_COLUMNS <= MAX_PLACEHOLDERS);
/// Ids per `IN (…)` list when reading artists by id: about 58 bytes of text each, so a
/// statement stays well under [`MAX_STATEMENT_BYTES`] (longer ones pin on RDS Proxy).
const IDS_PER_QUERY: usize = 200;
const _: () = assert!(IDS_PER_QUERY * 60 + 1_024 < MAX_STATEMENT_BYTES);
/// The named lock that keeps two datamart replacements from sharing the staging table.
const REPLACE_LOCK: &str = "encore.related_artists.replace";
/// How long a replacement waits for another one to finish, in seconds.
const REPLACE_LOCK_WAIT_SECS: i64 = 60;

/// The artist columns every artist query selects, in [`artist_from_row`]'s order.
fn artist_columns(alias: &str) -> String {
    format!(
        "{alias}.id, {alias}.name, {alias}.popularity, {alias}.followers, CAST({alias}.genres AS CHAR) AS genres, \
         {alias}.image_url, {alias}.spotify_url"
    )
}

/// Reads a text column. The tables use the `utf8mb4_bin` collation (names and keys match
/// byte for byte), which the server reports with the BINARY flag, and sqlx refuses to decode
/// such columns as strings; the value is still checked to be UTF-8.
fn text<T>(row: &MySqlRow, column: &str) -> Result<T, BackendError>
where
    T: for<'r> sqlx::Decode<'r, MySql>,
{
    Ok(row.try_get_unchecked(column)?)
}

fn artist_from_row(row: &MySqlRow) -> Result<Artist, BackendError> {
    let genres: String = text(row, "genres")?;
    Ok(Artist {
        id: stored_artist_id(text(row, "id")?)?,
        name: text(row, "name")?,
        popularity: row.try_get("popularity")?,
        followers: row.try_get("followers")?,
        genres: serde_json::from_str(&genres).map_err(|e| {
            BackendError::corrupt(format!("genres of an artist are not a JSON list: {e}"))
        })?,
        image_url: text(row, "image_url")?,
        spotify_url: text(row, "spotify_url")?,
    })
}

/// The first row of `sql`, if any, over the text protocol. (`RawSql::fetch_optional` of
/// sqlx 0.8.6 is `fetch_one`, so the executor's method is called.)
async fn fetch_optional(pool: &MySqlPool, sql: &str) -> Result<Option<MySqlRow>, BackendError> {
    Ok(sqlx::Executor::fetch_optional(pool, sqlx::raw_sql(sql)).await?)
}

/// [`ArtistStore`], [`RelatedStore`] and [`RequestLog`] on a MySQL-compatible server.
#[derive(Debug, Clone)]
pub struct MySqlStore {
    pool: MySqlPool,
}

impl MySqlStore {
    /// Connects to `url` (`mysql://user:password@host:port/database`) and checks that the
    /// schema is at least the one this code needs (a newer one is accepted; nothing is
    /// migrated: the migrate function does that once per deploy). An unreachable server is
    /// `Unavailable` within a few seconds, an older schema `Rejected`.
    pub async fn connect(url: &str) -> Result<Self, BackendError> {
        Self::connect_with(Self::options(url)?).await
    }

    /// Like [`MySqlStore::connect`], with at most `pool_size` connections (a Lambda
    /// function needs as many as the queries one event runs at once).
    pub async fn connect_sized(url: &str, pool_size: u32) -> Result<Self, BackendError> {
        let pool = Self::build_pool(Self::options(url)?, pool_size).await?;
        crate::migrate::require_mysql(&pool).await?;
        Ok(Self { pool })
    }

    /// Like [`MySqlStore::connect`], with options already built (tests pick the database).
    pub async fn connect_with(options: MySqlConnectOptions) -> Result<Self, BackendError> {
        let pool = Self::build_pool(options, MAX_CONNECTIONS).await?;
        crate::migrate::require_mysql(&pool).await?;
        Ok(Self { pool })
    }

    /// Connects to `url` and applies the migrations this code knows: for the migrate
    /// function and for tests, never for a function answering requests.
    pub async fn migrate_and_connect(url: &str) -> Result<Self, BackendError> {
        Self::migrate_and_connect_with(Self::options(url)?).await
    }

    /// Like [`MySqlStore::migrate_and_connect`], with options already built.
    pub async fn migrate_and_connect_with(
        options: MySqlConnectOptions,
    ) -> Result<Self, BackendError> {
        let pool = Self::build_pool(options, MAX_CONNECTIONS).await?;
        crate::migrate::mysql(&pool).await?;
        Ok(Self { pool })
    }

    fn options(url: &str) -> Result<MySqlConnectOptions, BackendError> {
        MySqlConnectOptions::from_str(url)
            .map_err(|e| BackendError::rejected(format!("invalid MySQL URL: {e}")))
    }

    /// A pool whose connections send nothing at connect (see the module's comment).
    async fn build_pool(
        options: MySqlConnectOptions,
        size: u32,
    ) -> Result<MySqlPool, BackendError> {
        let options = options
            .pipes_as_concat(false)
            .no_engine_substitution(false)
            .timezone(None)
            .set_names(false);
        Ok(MySqlPoolOptions::new()
            .max_connections(size)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await?)
    }

    /// Wraps a pool whose database the caller has already migrated ([`crate::migrate::mysql`]).
    pub fn from_pool(pool: MySqlPool) -> Self {
        Self { pool }
    }

    /// The underlying pool.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Loads `related` into a fresh staging table and swaps it in with one `RENAME TABLE`, on
    /// a connection holding [`REPLACE_LOCK`]. Any failure before the rename leaves the live
    /// table untouched.
    async fn load_and_swap(
        conn: &mut MySqlConnection,
        related: &RelatedSnapshot,
    ) -> Result<(), BackendError> {
        let date = if related.is_empty() {
            None
        } else {
            Some(snapshot_date(related)?)
        };
        sqlx::query(&format!(
            "DROP TABLE IF EXISTS {RELATED_ARTISTS_STAGING}, {RELATED_ARTISTS_OLD}"
        ))
        .execute(&mut *conn)
        .await?;
        sqlx::query(&format!(
            "CREATE TABLE {RELATED_ARTISTS_STAGING} LIKE {RELATED_ARTISTS}"
        ))
        .execute(&mut *conn)
        .await?;
        let loaded = Self::load_staging(conn, related, date).await;
        if let Err(err) = loaded {
            let dropped = sqlx::query(&format!("DROP TABLE IF EXISTS {RELATED_ARTISTS_STAGING}"))
                .execute(&mut *conn)
                .await;
            if let Err(drop_err) = dropped {
                tracing::warn!(error = %drop_err, "could not drop the staging table after a failed load");
            }
            return Err(err);
        }
        sqlx::query(&format!(
            "RENAME TABLE {RELATED_ARTISTS} TO {RELATED_ARTISTS_OLD}, {RELATED_ARTISTS_STAGING} TO {RELATED_ARTISTS}"
        ))
        .execute(&mut *conn)
        .await?;
        sqlx::query(&format!("DROP TABLE {RELATED_ARTISTS_OLD}"))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    async fn load_staging(
        conn: &mut MySqlConnection,
        related: &RelatedSnapshot,
        date: Option<NaiveDate>,
    ) -> Result<(), BackendError> {
        let Some(date) = date else {
            return Ok(());
        };
        for batch in related.batches(RELATED_ROWS_PER_INSERT) {
            let mut insert = QueryBuilder::<MySql>::new(format!(
                "INSERT INTO {RELATED_ARTISTS_STAGING} (artist_id, `rank`, related_id, distance, snapshot) "
            ));
            insert.push_values(related.rows_in(batch), |mut values, row| {
                values
                    .push_bind(row.artist_id.as_str())
                    .push_bind(row.rank)
                    .push_bind(row.related_id.as_str())
                    .push_bind(row.distance)
                    .push_bind(date);
            });
            insert.build().execute(&mut *conn).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl ArtistStore for MySqlStore {
    #[tracing::instrument(skip_all, fields(artist_id = %artist.id))]
    async fn upsert_artist(&self, artist: &Artist) -> Result<(), BackendError> {
        let genres = serde_json::to_string(&artist.genres)
            .map_err(|e| BackendError::rejected(e.to_string()))?;
        let sql = inline(
            &format!(
                "INSERT INTO {ARTISTS} \
                 (id, name, normalized_name, popularity, followers, genres, image_url, spotify_url, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE name = VALUES(name), normalized_name = VALUES(normalized_name), \
                 popularity = VALUES(popularity), followers = VALUES(followers), genres = VALUES(genres), \
                 image_url = VALUES(image_url), spotify_url = VALUES(spotify_url), updated_at = VALUES(updated_at)"
            ),
            &[
                &artist.id,
                &artist.name,
                &artist.normalized_name(),
                &artist.popularity,
                &artist.followers,
                &genres,
                &artist.image_url,
                &artist.spotify_url,
                &Utc::now(),
            ],
        )?;
        sqlx::raw_sql(&sql).execute(&self.pool).await?;
        Ok(())
    }

    #[tracing::instrument(skip(self))]
    async fn put_alias(
        &self,
        alias: &NormalizedName,
        artist_id: &ArtistId,
    ) -> Result<(), BackendError> {
        let sql = inline(
            &format!(
                "INSERT INTO {ARTIST_ALIASES} (alias, artist_id, created_at) VALUES (?, ?, ?) \
                 ON DUPLICATE KEY UPDATE created_at = IF(artist_id = VALUES(artist_id), created_at, VALUES(created_at)), \
                 artist_id = VALUES(artist_id)"
            ),
            &[&alias, &artist_id, &Utc::now()],
        )?;
        sqlx::raw_sql(&sql).execute(&self.pool).await?;
        Ok(())
    }

    #[tracing::instrument(skip(self))]
    async fn find_artist(
        &self,
        normalized: &NormalizedName,
    ) -> Result<Option<Artist>, BackendError> {
        // A catalog name beats an alias; among several artists with one name, the most popular.
        let sql = inline(
            &format!(
                "SELECT * FROM ( \
                   SELECT 0 AS via_alias, {by_name} FROM {ARTISTS} a WHERE a.normalized_name = ? \
                   UNION ALL \
                   SELECT 1 AS via_alias, {by_alias} FROM {ARTIST_ALIASES} al JOIN {ARTISTS} a ON a.id = al.artist_id \
                   WHERE al.alias = ? \
                 ) found ORDER BY via_alias, popularity DESC, id LIMIT 1",
                by_name = artist_columns("a"),
                by_alias = artist_columns("a"),
            ),
            &[&normalized, &normalized],
        )?;
        let row = fetch_optional(&self.pool, &sql).await?;
        row.as_ref().map(artist_from_row).transpose()
    }

    #[tracing::instrument(skip_all, fields(ids = ids.len()))]
    async fn artists(&self, ids: &[ArtistId]) -> Result<Vec<Artist>, BackendError> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in distinct(ids).chunks(IDS_PER_QUERY) {
            let sql = format!(
                "SELECT {} FROM {ARTISTS} a WHERE a.id IN ({})",
                artist_columns("a"),
                list(chunk)?
            );
            for row in sqlx::raw_sql(&sql).fetch_all(&self.pool).await? {
                found.push(artist_from_row(&row)?);
            }
        }
        Ok(found)
    }

    #[tracing::instrument(skip(self))]
    async fn known_names(&self) -> Result<Vec<KnownName>, BackendError> {
        let rows = sqlx::raw_sql(&known_names_sql())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(KnownName {
                    key: text(row, "name_key")?,
                    display: text(row, "name")?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl RelatedStore for MySqlStore {
    #[tracing::instrument(skip(self))]
    async fn related_artist_count(&self) -> Result<u64, BackendError> {
        let count: i64 = sqlx::raw_sql(&format!(
            "SELECT COUNT(DISTINCT artist_id) FROM {RELATED_ARTISTS}"
        ))
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        u64::try_from(count)
            .map_err(|_| BackendError::corrupt(format!("negative datamart count {count}")))
    }

    #[tracing::instrument(skip(self))]
    async fn related(
        &self,
        artist_id: &ArtistId,
        limit: u32,
    ) -> Result<Vec<(RelatedArtist, Artist)>, BackendError> {
        let sql = inline(
            &format!(
                "SELECT r.artist_id AS source_id, r.`rank`, r.related_id, r.distance, r.snapshot, {} \
                 FROM {RELATED_ARTISTS} r JOIN {ARTISTS} a ON a.id = r.related_id \
                 WHERE r.artist_id = ? ORDER BY r.`rank` LIMIT ?",
                artist_columns("a")
            ),
            &[&artist_id, &limit],
        )?;
        let rows = sqlx::raw_sql(&sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let snapshot: NaiveDate = row.try_get("snapshot")?;
                let related = RelatedArtist {
                    artist_id: stored_artist_id(text(row, "source_id")?)?,
                    rank: row.try_get("rank")?,
                    related_id: stored_artist_id(text(row, "related_id")?)?,
                    distance: row.try_get("distance")?,
                    snapshot: snapshot.format("%Y-%m-%d").to_string(),
                };
                Ok((related, artist_from_row(row)?))
            })
            .collect()
    }

    #[tracing::instrument(skip_all, fields(rows = related.len()))]
    async fn replace_related(&self, related: &RelatedSnapshot) -> Result<(), BackendError> {
        let mut conn = self.pool.acquire().await?;
        let locked: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
            .bind(REPLACE_LOCK)
            .bind(REPLACE_LOCK_WAIT_SECS)
            .fetch_one(&mut *conn)
            .await?;
        if locked != Some(1) {
            return Err(BackendError::unavailable(format!(
                "another datamart replacement held {REPLACE_LOCK} for {REPLACE_LOCK_WAIT_SECS} s"
            )));
        }
        let swapped = Self::load_and_swap(&mut conn, related).await;
        let released = sqlx::query("SELECT RELEASE_LOCK(?)")
            .bind(REPLACE_LOCK)
            .execute(&mut *conn)
            .await;
        if let Err(err) = released {
            // The lock dies with the connection: make sure it is not returned to the pool.
            tracing::warn!(error = %err, "could not release the replace lock; closing its connection");
            conn.close_on_drop();
        }
        swapped
    }

    #[tracing::instrument(skip(self))]
    async fn export_related(&self) -> Result<Vec<RelatedRow>, BackendError> {
        let rows = sqlx::raw_sql(&format!(
            "SELECT r.artist_id, src.name AS artist_name, r.`rank`, r.related_id, dst.name AS related_name, r.distance \
             FROM {RELATED_ARTISTS} r \
             JOIN {ARTISTS} src ON src.id = r.artist_id \
             JOIN {ARTISTS} dst ON dst.id = r.related_id \
             ORDER BY r.artist_id, r.`rank`"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RelatedRow {
                    artist_id: stored_artist_id(text(row, "artist_id")?)?,
                    artist_name: text(row, "artist_name")?,
                    rank: row.try_get("rank")?,
                    related_id: stored_artist_id(text(row, "related_id")?)?,
                    related_name: text(row, "related_name")?,
                    distance: row.try_get("distance")?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl DatamartWatermark for MySqlStore {
    #[tracing::instrument(skip(self))]
    async fn last_ingested_at(&self) -> Result<Option<DateTime<Utc>>, BackendError> {
        let at: Option<NaiveDateTime> =
            sqlx::raw_sql(&format!("SELECT MAX(updated_at) FROM {ARTISTS}"))
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?;
        Ok(at.map(|at| at.and_utc()))
    }

    #[tracing::instrument(skip(self))]
    async fn datamart_read_at(&self) -> Result<Option<DateTime<Utc>>, BackendError> {
        let at: Option<NaiveDateTime> = fetch_optional(
            &self.pool,
            &format!("SELECT read_at FROM {DATAMART_WATERMARK} WHERE id = 1"),
        )
        .await?
        .map(|row| row.try_get(0))
        .transpose()?;
        Ok(at.map(|at| at.and_utc()))
    }

    #[tracing::instrument(skip(self))]
    async fn record_datamart_read_at(&self, at: DateTime<Utc>) -> Result<(), BackendError> {
        let sql = inline(
            &format!(
                "INSERT INTO {DATAMART_WATERMARK} (id, read_at) VALUES (1, ?) \
                 ON DUPLICATE KEY UPDATE read_at = GREATEST(read_at, VALUES(read_at))"
            ),
            &[&at],
        )?;
        sqlx::raw_sql(&sql).execute(&self.pool).await?;
        Ok(())
    }
}

#[async_trait]
impl RequestLog for MySqlStore {
    #[tracing::instrument(skip(self))]
    async fn claim(
        &self,
        normalized: &NormalizedName,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<bool, BackendError> {
        let window = chrono::Duration::from_std(window)
            .map_err(|e| BackendError::rejected(e.to_string()))?;
        let cutoff = now - window;
        // Take over a finished or stale request; a fresh pending one stays.
        let pending = RequestStatus::Pending.as_str();
        let sql = inline(
            &format!(
                "UPDATE {ARTIST_REQUESTS} SET status = ?, requested_at = ?, asked_at = ?, finished_at = NULL \
                 WHERE normalized = ? AND (status <> ? OR requested_at <= ?)"
            ),
            &[&pending, &now, &now, &normalized, &pending, &cutoff],
        )?;
        let taken = sqlx::raw_sql(&sql).execute(&self.pool).await?;
        if taken.rows_affected() > 0 {
            return Ok(true);
        }
        // No row, or a fresh pending one: only one concurrent claimer can insert.
        let sql = inline(
            &format!(
                "INSERT INTO {ARTIST_REQUESTS} (normalized, status, requested_at, attempts, asked_at) VALUES (?, ?, ?, 0, ?)"
            ),
            &[&normalized, &pending, &now, &now],
        )?;
        let inserted = sqlx::raw_sql(&sql).execute(&self.pool).await;
        match inserted {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    #[tracing::instrument(skip(self))]
    async fn finish(
        &self,
        normalized: &NormalizedName,
        status: RequestStatus,
    ) -> Result<(), BackendError> {
        let now = Utc::now();
        let sql = inline(
            &format!(
                "INSERT INTO {ARTIST_REQUESTS} (normalized, status, requested_at, attempts, finished_at) VALUES (?, ?, ?, 1, ?) \
                 ON DUPLICATE KEY UPDATE status = VALUES(status), attempts = attempts + 1, finished_at = VALUES(finished_at)"
            ),
            &[&normalized, &status.as_str(), &now, &now],
        )?;
        sqlx::raw_sql(&sql).execute(&self.pool).await?;
        Ok(())
    }

    #[tracing::instrument(skip(self))]
    async fn record(
        &self,
        normalized: &NormalizedName,
    ) -> Result<Option<RequestRecord>, BackendError> {
        let sql = inline(
            &format!(
                "SELECT status, requested_at, finished_at FROM {ARTIST_REQUESTS} WHERE normalized = ?"
            ),
            &[&normalized],
        )?;
        let row = fetch_optional(&self.pool, &sql).await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let status: String = text(&row, "status")?;
        Ok(Some(RequestRecord {
            status: RequestStatus::parse(&status).ok_or_else(|| {
                BackendError::corrupt(format!("unknown request status {status:?}"))
            })?,
            requested_at: row.try_get("requested_at")?,
            finished_at: row.try_get("finished_at")?,
        }))
    }

    #[tracing::instrument(skip(self))]
    async fn status(
        &self,
        normalized: &NormalizedName,
    ) -> Result<Option<RequestStatus>, BackendError> {
        let sql = inline(
            &format!("SELECT status FROM {ARTIST_REQUESTS} WHERE normalized = ?"),
            &[&normalized],
        )?;
        let row = fetch_optional(&self.pool, &sql).await?;
        let raw: Option<String> = row.map(|row| text(&row, "status")).transpose()?;
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
        let sql = inline(
            &format!(
                "INSERT INTO {ARTIST_REQUESTS} (normalized, status, requested_at, attempts, asked_at) VALUES (?, ?, ?, 0, ?) \
                 ON DUPLICATE KEY UPDATE asked_at = GREATEST(COALESCE(asked_at, VALUES(asked_at)), VALUES(asked_at))"
            ),
            &[&normalized, &RequestStatus::Done.as_str(), &at, &at],
        )?;
        sqlx::raw_sql(&sql).execute(&self.pool).await?;
        Ok(())
    }

    #[tracing::instrument(skip(self))]
    async fn asked_since(&self, since: DateTime<Utc>) -> Result<Vec<NormalizedName>, BackendError> {
        let sql = inline(
            &format!(
                "SELECT normalized FROM {ARTIST_REQUESTS} WHERE asked_at >= ? AND status <> ? ORDER BY normalized"
            ),
            &[&since, &RequestStatus::NotFound.as_str()],
        )?;
        let rows = sqlx::raw_sql(&sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| text(row, "normalized").map(NormalizedName::from_stored))
            .collect()
    }
}
