//! The lake in a local directory: object `a/b/c.parquet` is the file `<root>/a/b/c.parquet`,
//! so DataFusion (and any Parquet reader) can read the lake in place.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use super::{validate_key, validate_prefix, Lake, ObjectInfo};
use crate::LakeError;

/// A lake directory. Writes go to a hidden temporary file in the target's directory and
/// are renamed over the target, so readers never see a partial file.
#[derive(Debug, Clone)]
pub struct LocalDirLake {
    root: PathBuf,
}

impl LocalDirLake {
    /// The lake under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The lake's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> PathBuf {
        key.split('/')
            .fold(self.root.clone(), |path, segment| path.join(segment))
    }
}

fn io_error(path: &Path, source: std::io::Error) -> LakeError {
    LakeError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[async_trait]
impl Lake for LocalDirLake {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), LakeError> {
        validate_key(key)?;
        let path = self.path_of(key);
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| io_error(&dir, e))?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = dir.join(format!(
            ".{file_name}.{}.tmp",
            uuid::Uuid::new_v4().simple()
        ));
        let written = async {
            let mut file = tokio::fs::File::create(&temp).await?;
            file.write_all(&bytes).await?;
            file.sync_all().await?;
            tokio::fs::rename(&temp, &path).await
        }
        .await;
        if let Err(source) = written {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(io_error(&path, source));
        }
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, LakeError> {
        validate_key(key)?;
        let path = self.path_of(key);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(Bytes::from(bytes))),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::IsADirectory
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(io_error(&path, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, LakeError> {
        validate_prefix(prefix)?;
        // Walk only the deepest directory the prefix names in full.
        let start_key = prefix.rsplit_once('/').map_or("", |(dir, _)| dir);
        let start = if start_key.is_empty() {
            self.root.clone()
        } else {
            self.path_of(start_key)
        };
        let mut found = Vec::new();
        let mut pending = vec![(start, start_key.to_owned())];
        while let Some((dir, dir_key)) = pending.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_error(&dir, e)),
            };
            while let Some(entry) = entries.next_entry().await.map_err(|e| io_error(&dir, e))? {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                let key = if dir_key.is_empty() {
                    name
                } else {
                    format!("{dir_key}/{name}")
                };
                let meta = entry
                    .metadata()
                    .await
                    .map_err(|e| io_error(&entry.path(), e))?;
                if meta.is_dir() {
                    pending.push((entry.path(), key));
                } else if key.starts_with(prefix) {
                    found.push(ObjectInfo {
                        key,
                        size: meta.len(),
                    });
                }
            }
        }
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    async fn delete(&self, key: &str) -> Result<(), LakeError> {
        validate_key(key)?;
        let path = self.path_of(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(&path, e)),
        }
    }
}
