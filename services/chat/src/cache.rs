//! The chat's read-through cache: the rendered answer (and its JSON body) per normalized
//! name, so a known artist costs one hash lookup instead of its store round trips (artist,
//! related artists, top tracks and latest release, the asked-about record) and a render. Entries live for a short TTL, which bounds staleness across Lambda instances;
//! [`AnswerCache::invalidate`] drops everything at once when ingest writes or the datamart
//! swaps (the local runner calls it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use crate::answer::Answer;

/// Rendered answers by normalized name.
#[derive(Debug)]
pub struct AnswerCache {
    ttl: Duration,
    capacity: usize,
    entries: RwLock<HashMap<String, Entry>>,
    /// Bumped by every invalidation, so an answer read from the stores before an
    /// invalidation is not stored after it.
    generation: AtomicU64,
    /// Lookups answered from the cache so far.
    hits: AtomicU64,
}

#[derive(Debug)]
struct Entry {
    expires: Instant,
    answer: Answer,
}

/// The cache's state when a lookup started; passed back to [`AnswerCache::insert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

impl AnswerCache {
    /// An empty cache keeping up to `capacity` answers for `ttl` each.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        }
    }

    /// Lookups answered from the cache so far (for the chat's metrics).
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Read before looking in the stores.
    pub fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::Acquire))
    }

    /// The cached answer for `key`, unless it expired.
    pub fn get(&self, key: &str) -> Option<Answer> {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let hit = entries
            .get(key)
            .filter(|e| e.expires > Instant::now())
            .map(|e| e.answer.clone());
        if hit.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// Stores `answer` for `key`, unless the cache was invalidated since `seen`. A full
    /// cache first drops its expired entries, and everything if none had expired.
    pub fn insert(&self, key: &str, answer: Answer, seen: Generation) {
        if self.ttl.is_zero() || self.capacity == 0 {
            return;
        }
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.generation() != seen {
            return;
        }
        let now = Instant::now();
        if entries.len() >= self.capacity && !entries.contains_key(key) {
            entries.retain(|_, e| e.expires > now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(
            key.to_owned(),
            Entry {
                expires: now + self.ttl,
                answer,
            },
        );
    }

    /// Drops every answer (ingest wrote an artist, or the datamart was swapped).
    pub fn invalidate(&self) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// Answers currently held (expired ones included until they are swept).
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    /// True when no answer is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::AnswerKind;

    fn answer() -> Answer {
        Answer::new(AnswerKind::Help, encore_kakao::render::help())
    }

    #[test]
    fn serves_until_expiry_or_invalidation() {
        let cache = AnswerCache::new(Duration::from_secs(60), 10);
        let seen = cache.generation();
        cache.insert("bts", answer(), seen);
        assert!(cache.get("bts").is_some());
        assert!(cache.get("iu").is_none());
        cache.invalidate();
        assert!(cache.get("bts").is_none());
        cache.insert("bts", answer(), seen);
        assert!(
            cache.get("bts").is_none(),
            "a lookup that began before the invalidation is not stored"
        );

        let expired = AnswerCache::new(Duration::from_nanos(1), 10);
        expired.insert("bts", answer(), expired.generation());
        std::thread::sleep(Duration::from_millis(2));
        assert!(expired.get("bts").is_none());
    }

    #[test]
    fn stays_within_capacity() {
        let cache = AnswerCache::new(Duration::from_secs(60), 3);
        for key in ["a", "b", "c", "d"] {
            cache.insert(key, answer(), cache.generation());
        }
        assert!(cache.len() <= 3);
        assert!(cache.get("d").is_some());
    }
}
