//! Errors that say what was being done: an adapter prefixes the backend's message with
//! the operation and the resource, keeping the error's kind.

use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};

use crate::error::from_sdk;
use crate::StoreError;

/// Prefixes `err`'s message with `context`, keeping its variant.
pub(crate) fn with_context(err: StoreError, context: &str) -> StoreError {
    match err {
        StoreError::Unavailable(m) => StoreError::Unavailable(format!("{context}: {m}")),
        StoreError::Rejected(m) => StoreError::Rejected(format!("{context}: {m}")),
        StoreError::Corrupt(m) => StoreError::Corrupt(format!("{context}: {m}")),
    }
}

/// A failed AWS call, translated by [`from_sdk`] and named by `operation`.
pub(crate) fn aws_call<E, R>(operation: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    with_context(from_sdk(err), operation)
}
