//! What can go wrong in a store, in the terms handlers care about.

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

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => Self::Unavailable(err.to_string()),
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::ColumnNotFound(_) => {
                Self::Corrupt(err.to_string())
            }
            _ => Self::Rejected(err.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        Self::Rejected(format!("migration failed: {err}"))
    }
}
