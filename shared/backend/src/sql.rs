//! sqlx errors (MySQL / MariaDB and SQLite) in the handlers' terms.

use sqlx::error::{DatabaseError, ErrorKind};

use crate::BackendError;

#[cfg(feature = "mysql")]
/// MySQL / MariaDB error numbers that mean "try again later": too many connections (1040,
/// 1203), server shutting down (1053), lock wait timeout (1205), deadlock (1213), and a
/// row locked by a concurrent writer (3572, `NOWAIT`).
const MYSQL_TRANSIENT_NUMBERS: [u16; 6] = [1040, 1053, 1203, 1205, 1213, 3572];

#[cfg(feature = "sqlite")]
/// SQLite primary result codes that mean "another connection holds the lock": `SQLITE_BUSY`
/// (5) and `SQLITE_LOCKED` (6); extended codes carry them in their low byte.
const SQLITE_TRANSIENT_CODES: [i64; 2] = [5, 6];

/// True when a database error is worth retrying (a lock or a connection limit), false when
/// the same statement would fail again.
fn is_transient(db: &dyn DatabaseError) -> bool {
    #[cfg(feature = "mysql")]
    if let Some(mysql) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return MYSQL_TRANSIENT_NUMBERS.contains(&mysql.number());
    }
    // SQLite reports its (extended) result code as a decimal string.
    #[cfg(feature = "sqlite")]
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        return db
            .code()
            .and_then(|code| code.parse::<i64>().ok())
            .is_some_and(|n| SQLITE_TRANSIENT_CODES.contains(&(n & 0xff)));
    }
    false
}

impl From<sqlx::Error> for BackendError {
    fn from(err: sqlx::Error) -> Self {
        let reason = err.to_string();
        let kind = match &err {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => Self::unavailable(reason),
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnNotFound(_) => Self::corrupt(reason),
            sqlx::Error::Database(db) if is_transient(db.as_ref()) => Self::unavailable(reason),
            // MySQL 1062, SQLite 1555 / 2067: the data itself is wrong, name it plainly.
            sqlx::Error::Database(db) if matches!(db.kind(), ErrorKind::UniqueViolation) => {
                Self::duplicate(db.message().to_owned())
            }
            _ => Self::rejected(reason),
        };
        kind.caused_by(err)
    }
}

impl From<sqlx::migrate::MigrateError> for BackendError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        match err {
            sqlx::migrate::MigrateError::Execute(inner) => match Self::from(inner) {
                rejected @ (Self::Rejected { .. } | Self::Duplicate { .. }) => {
                    rejected.context("migration failed")
                }
                other => other,
            },
            other => Self::rejected(format!("migration failed: {other}")).caused_by(other),
        }
    }
}
