//! "Did you mean" for the not-found answer: a trigram index over every name the stores
//! know ([`encore_store::ArtistStore::known_names`]), built on the first not-found answer
//! and rebuilt once it is older than the answer cache's lifetime or the cache is
//! invalidated. Never Spotify: only names the chat can already answer are suggested.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use encore_domain::suggest::NameIndex;
use encore_store::{ArtistStore, BackendError};

/// The index of known names, shared by all requests.
#[derive(Debug)]
pub struct Suggestions {
    ttl: Duration,
    index: RwLock<Option<(Instant, Arc<NameIndex>)>>,
    /// Held while the index is rebuilt, so concurrent not-found answers read the names once.
    rebuilding: tokio::sync::Mutex<()>,
}

impl Suggestions {
    /// An empty index, rebuilt when older than `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            index: RwLock::new(None),
            rebuilding: tokio::sync::Mutex::new(()),
        }
    }

    fn current(&self) -> Option<Arc<NameIndex>> {
        let index = self
            .index
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        index
            .as_ref()
            .filter(|(built, _)| built.elapsed() < self.ttl)
            .map(|(_, index)| index.clone())
    }

    /// Up to `limit` known names close to `normalized`, closest first.
    pub async fn suggest<A: ArtistStore + ?Sized>(
        &self,
        artists: &A,
        normalized: &str,
        limit: usize,
    ) -> Result<Vec<String>, BackendError> {
        let index = match self.current() {
            Some(index) => index,
            None => {
                let _rebuilding = self.rebuilding.lock().await;
                match self.current() {
                    Some(index) => index,
                    None => {
                        let index = Arc::new(NameIndex::new(artists.known_names().await?));
                        *self
                            .index
                            .write()
                            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
                            Some((Instant::now(), index.clone()));
                        index
                    }
                }
            }
        };
        Ok(index.suggest(normalized, limit))
    }

    /// Drops the index: the next not-found answer rebuilds it from the stores.
    pub fn invalidate(&self) {
        *self
            .index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }
}
