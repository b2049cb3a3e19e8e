//! The relational schema (`sqlx::migrate!`), one set of migrations per database with the
//! same meaning. SQLite (the embedded runner) migrates at start-up; on MySQL the migrate
//! function applies them once per deploy and the other functions only check the level.

#[cfg(feature = "mysql")]
use sqlx::migrate::Migrator;
#[cfg(feature = "sqlite")]
use sqlx::SqlitePool;
#[cfg(feature = "mysql")]
use sqlx::{MySqlPool, Row};

#[cfg(any(feature = "mysql", feature = "sqlite"))]
use crate::BackendError;

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

/// The name of the table where sqlx records the applied migrations.
pub const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

#[cfg(feature = "mysql")]
/// MySQL error numbers met while reading [`MIGRATIONS_TABLE`]: no such table (1146), and
/// no SELECT privilege on it (1142).
const NO_SUCH_TABLE: u16 = 1146;
#[cfg(feature = "mysql")]
const TABLE_ACCESS_DENIED: u16 = 1142;

#[cfg(feature = "mysql")]
/// The MySQL migrations this code was built with, in version order.
fn mysql_migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("./migrations/mysql");
    // After a rollback, older code runs against a newer schema: the migrations it does not
    // know stay applied (every migration only adds), and are not an error.
    migrator.set_ignore_missing(true);
    migrator
}

#[cfg(feature = "mysql")]
/// Applies the MySQL migrations this code knows (idempotent), leaving newer ones in
/// place. In AWS only the migrate function calls this, once per deploy; the other
/// functions call [`require_mysql`].
pub async fn mysql(pool: &MySqlPool) -> Result<(), BackendError> {
    mysql_migrator().run(pool).await?;
    Ok(())
}

#[cfg(feature = "mysql")]
/// How the database's schema compares with the one this code was built for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaLevel {
    /// The newest migration this code knows.
    pub needed: i64,
    /// Applied migrations this code does not know (a newer deploy's): accepted.
    pub newer: Vec<i64>,
}

#[cfg(feature = "mysql")]
/// Checks, without changing anything, that every MySQL migration this code knows is
/// applied; migrations it does not know (a newer schema) are accepted. An older schema, or
/// none, is `Rejected` with what to do. Reads [`MIGRATIONS_TABLE`] over the text protocol.
pub async fn require_mysql(pool: &MySqlPool) -> Result<SchemaLevel, BackendError> {
    let rows = sqlx::raw_sql(&format!(
        "SELECT version, success FROM {MIGRATIONS_TABLE} ORDER BY version"
    ))
    .fetch_all(pool)
    .await
    .map_err(|err| match &err {
        sqlx::Error::Database(db) => match db
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .map(|e| e.number())
        {
            Some(NO_SUCH_TABLE) => BackendError::rejected(format!(
                "the database has no encore schema (no {MIGRATIONS_TABLE} table): \
                 run the migrate function (the stack's DatabaseSchema resource) first"
            )),
            Some(TABLE_ACCESS_DENIED) => BackendError::rejected(format!(
                "this database user may not read {MIGRATIONS_TABLE}: {}",
                db.message()
            )),
            _ => BackendError::from(err),
        },
        _ => BackendError::from(err),
    })?;
    let mut applied = Vec::with_capacity(rows.len());
    for row in &rows {
        let version: i64 = row.try_get("version")?;
        let success: bool = row.try_get("success")?;
        applied.push((version, success));
    }
    schema_level(&mysql_migrator(), &applied)
}

#[cfg(feature = "mysql")]
/// Compares applied `(version, success)` rows with the migrations of `migrator`.
fn schema_level(migrator: &Migrator, applied: &[(i64, bool)]) -> Result<SchemaLevel, BackendError> {
    let known: Vec<i64> = migrator.iter().map(|m| m.version).collect();
    let needed = known.iter().copied().max().unwrap_or(0);
    let done = |version: i64| applied.contains(&(version, true));
    let missing: Vec<i64> = known.iter().copied().filter(|v| !done(*v)).collect();
    if !missing.is_empty() {
        let newest = applied.iter().filter(|(_, ok)| *ok).map(|(v, _)| *v).max();
        return Err(BackendError::rejected(format!(
            "the database schema is older than this code: migrations {missing:?} are not \
             applied (newest applied: {newest:?}, this code needs {needed}); the deploy runs \
             the migrate function before the functions update"
        )));
    }
    let newer: Vec<i64> = applied
        .iter()
        .map(|(v, _)| *v)
        .filter(|v| !known.contains(v))
        .collect();
    if !newer.is_empty() {
        tracing::info!(
            ?newer,
            needed,
            "the schema is newer than this code; using it"
        );
    }
    Ok(SchemaLevel { needed, newer })
}

#[cfg(feature = "sqlite")]
/// Applies the SQLite migrations (idempotent).
pub async fn sqlite(pool: &SqlitePool) -> Result<(), BackendError> {
    sqlx::migrate!("./migrations/sqlite").run(pool).await?;
    Ok(())
}

#[cfg(all(test, feature = "mysql"))]
mod tests {
    use super::*;

    fn known() -> Vec<i64> {
        mysql_migrator().iter().map(|m| m.version).collect()
    }

    #[test]
    fn every_known_migration_applied_is_enough_and_newer_ones_are_accepted() {
        let mut applied: Vec<(i64, bool)> = known().into_iter().map(|v| (v, true)).collect();
        let level = schema_level(&mysql_migrator(), &applied).unwrap();
        assert_eq!(level.needed, *known().last().unwrap());
        assert!(level.newer.is_empty());
        applied.push((9_999, true));
        let level = schema_level(&mysql_migrator(), &applied).unwrap();
        assert_eq!(level.newer, [9_999]);
    }

    #[test]
    fn an_older_or_dirty_schema_is_refused_with_what_to_do() {
        let known = known();
        let older: Vec<(i64, bool)> = known[..known.len() - 1]
            .iter()
            .map(|v| (*v, true))
            .collect();
        let err = schema_level(&mysql_migrator(), &older)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("[{}]", known.last().unwrap())),
            "{err}"
        );
        assert!(err.contains("migrate function"), "{err}");
        let dirty: Vec<(i64, bool)> = known.iter().map(|v| (*v, *v != known[0])).collect();
        assert!(schema_level(&mysql_migrator(), &dirty).is_err());
        assert!(schema_level(&mysql_migrator(), &[]).is_err());
    }
}
