//! The lake's object store port: put, get, list and delete whole objects by key. Keys are
//! `/`-separated relative paths (`top-tracks/dt=2026-11-25/part-….parquet`), the same on
//! every adapter, so the same files can be queried by Athena and by DataFusion.

pub mod local_dir;
pub mod s3;

use async_trait::async_trait;
use bytes::Bytes;

use crate::LakeError;

pub use local_dir::LocalDirLake;
pub use s3::S3Lake;

/// An object listed under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

/// Where the lake's objects live: an S3 bucket, or a local directory with the same layout.
/// A put replaces the whole object at once: a reader sees the old bytes or the new ones.
#[async_trait]
pub trait Lake: Send + Sync {
    /// Stores `bytes` at `key`, replacing any object there.
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), LakeError>;
    /// The object at `key`, or `None` when there is none.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, LakeError>;
    /// Every object whose key starts with `prefix` (`""` lists all), sorted by key.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, LakeError>;
    /// Removes the object at `key`; removing a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), LakeError>;
}

/// Checks that `key` is a relative `/`-separated path whose segments are neither empty,
/// `..`, nor hidden (a leading `.` is reserved for the local directory's temporary files).
pub(crate) fn validate_key(key: &str) -> Result<(), LakeError> {
    if key.is_empty() {
        return Err(LakeError::InvalidKey {
            key: key.into(),
            reason: "empty",
        });
    }
    validate_segments(key, key.split('/'))
}

/// Like [`validate_key`] for a list prefix: may be empty and may end with `/`.
pub(crate) fn validate_prefix(prefix: &str) -> Result<(), LakeError> {
    let body = prefix.strip_suffix('/').unwrap_or(prefix);
    if body.is_empty() {
        return if prefix.is_empty() {
            Ok(())
        } else {
            Err(LakeError::InvalidKey {
                key: prefix.into(),
                reason: "absolute",
            })
        };
    }
    validate_segments(prefix, body.split('/'))
}

fn validate_segments<'a>(
    key: &str,
    mut segments: impl Iterator<Item = &'a str>,
) -> Result<(), LakeError> {
    let invalid = |reason| {
        Err(LakeError::InvalidKey {
            key: key.into(),
            reason,
        })
    };
    if key.contains('\\') || key.contains('\0') {
        return invalid("contains a backslash or NUL");
    }
    if segments.any(|s| s.is_empty() || s.starts_with('.')) {
        return invalid("has an empty, relative or hidden segment");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_relative_paths() {
        assert!(validate_key("top-tracks/dt=2026-11-25/part-a.parquet").is_ok());
        for bad in ["", "/a", "a//b", "a/../b", "..", "a/.tmp", "a\\b", "a/"] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
        assert!(validate_prefix("").is_ok());
        assert!(validate_prefix("top-tracks/").is_ok());
        assert!(validate_prefix("top-tracks/dt=2026").is_ok());
        for bad in ["/", "/a", "a/../", "../"] {
            assert!(validate_prefix(bad).is_err(), "{bad:?}");
        }
    }
}
