//! What can go wrong in a store, in the terms handlers care about.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use sqlx::error::{DatabaseError, ErrorKind};

/// A storage failure. Adapters translate vendor errors into these variants.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or timed out: worth retrying later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The backend refused the operation (bad schema, permissions, a limit): retrying the
    /// same call will not help.
    #[error("store rejected the operation: {0}")]
    Rejected(String),
    /// Stored data could not be decoded into domain types.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// MySQL / MariaDB error numbers that mean "try again later": too many connections (1040,
/// 1203), server shutting down (1053), lock wait timeout (1205), deadlock (1213), and a
/// row locked by a concurrent writer (3572, `NOWAIT`).
const MYSQL_TRANSIENT_NUMBERS: [u16; 6] = [1040, 1053, 1203, 1205, 1213, 3572];

/// SQLite primary result codes that mean "another connection holds the lock": `SQLITE_BUSY`
/// (5) and `SQLITE_LOCKED` (6); extended codes carry them in their low byte.
const SQLITE_TRANSIENT_CODES: [i64; 2] = [5, 6];

/// True when a database error is worth retrying (a lock or a connection limit), false when
/// the same statement would fail again.
fn is_transient(db: &dyn DatabaseError) -> bool {
    if let Some(mysql) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return MYSQL_TRANSIENT_NUMBERS.contains(&mysql.number());
    }
    // SQLite reports its (extended) result code as a decimal string.
    db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
        && db
            .code()
            .and_then(|code| code.parse::<i64>().ok())
            .is_some_and(|n| SQLITE_TRANSIENT_CODES.contains(&(n & 0xff)))
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => Self::Unavailable(err.to_string()),
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnNotFound(_) => Self::Corrupt(err.to_string()),
            sqlx::Error::Database(db) if is_transient(db.as_ref()) => {
                Self::Unavailable(err.to_string())
            }
            // MySQL 1062, SQLite 1555 / 2067: the data itself is wrong, name it plainly.
            sqlx::Error::Database(db) if matches!(db.kind(), ErrorKind::UniqueViolation) => {
                Self::Rejected(format!("duplicate key: {}", db.message()))
            }
            _ => Self::Rejected(err.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        match err {
            sqlx::migrate::MigrateError::Execute(inner) => match Self::from(inner) {
                Self::Rejected(reason) => Self::Rejected(format!("migration failed: {reason}")),
                other => other,
            },
            other => Self::Rejected(format!("migration failed: {other}")),
        }
    }
}

/// AWS error codes that mean "slow down or try again": throttling and server-side faults.
const AWS_TRANSIENT_CODES: [&str; 7] = [
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "Throttling",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// Translates an AWS SDK failure (any service: every `aws-sdk-*` crate shares this
/// `SdkError`): no response or a throttling/server fault is `Unavailable`, a service's
/// refusal is `Rejected` with its code and message.
pub(crate) fn from_sdk<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let detail = aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(detail)
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            if AWS_TRANSIENT_CODES.contains(&code) {
                StoreError::Unavailable(detail)
            } else {
                StoreError::Rejected(detail)
            }
        }
        _ => StoreError::Rejected(detail),
    }
}
