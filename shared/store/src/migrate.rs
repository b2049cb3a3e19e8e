//! The relational schema, applied by the code at start-up (`sqlx::migrate!`), one set of
//! migrations per database with the same meaning.

use sqlx::{MySqlPool, SqlitePool};

use crate::StoreError;

/// Names of the relational tables, defined once.
pub mod tables {
    pub const ARTISTS: &str = "artists";
    pub const ARTIST_ALIASES: &str = "artist_aliases";
    pub const RELATED_ARTISTS: &str = "related_artists";
    pub const ARTIST_REQUESTS: &str = "artist_requests";
    /// When the datamart in place was computed (one row).
    pub const DATAMART_WATERMARK: &str = "datamart_watermark";
    /// Every table the migrations create on both databases.
    pub const ALL: [&str; 5] = [
        ARTISTS,
        ARTIST_ALIASES,
        RELATED_ARTISTS,
        ARTIST_REQUESTS,
        DATAMART_WATERMARK,
    ];
    /// The embedded top-tracks cache: a SQLite table, the twin of the DynamoDB table of the
    /// same name on AWS.
    pub const TOP_TRACKS: &str = "top_tracks";
    /// The embedded cache of artists' latest releases (on AWS an item of `top_tracks`).
    pub const LATEST_RELEASES: &str = "latest_releases";
    /// Tables only the SQLite migrations create, besides [`ALL`].
    pub const SQLITE_ONLY: [&str; 2] = [TOP_TRACKS, LATEST_RELEASES];
    /// Where the MySQL adapter loads the next datamart before swapping it in; exists only
    /// while a replacement runs.
    pub const RELATED_ARTISTS_STAGING: &str = "related_artists_staging";
    /// Where the MySQL swap moves the previous datamart before dropping it.
    pub const RELATED_ARTISTS_OLD: &str = "related_artists_old";
}

/// Applies the MySQL migrations (idempotent).
pub async fn mysql(pool: &MySqlPool) -> Result<(), StoreError> {
    sqlx::migrate!("./migrations/mysql").run(pool).await?;
    Ok(())
}

/// Applies the SQLite migrations (idempotent).
pub async fn sqlite(pool: &SqlitePool) -> Result<(), StoreError> {
    sqlx::migrate!("./migrations/sqlite").run(pool).await?;
    Ok(())
}
