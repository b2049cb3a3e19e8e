//! The ports the chat reads and writes, one shared adapter each, chosen at run time: the
//! same wiring every service uses (a struct of `Arc<dyn Port>`).

use std::sync::Arc;

use encore_messaging::EventPublisher;
use encore_store::{ArtistStore, RelatedStore, RequestLog, TopTracksCache};

/// The chat's ports. The same adapter may serve several (the embedded SQLite store serves
/// all four stores). A known artist's answer is a cache hit that touches none of them, so
/// the dynamic dispatch costs the hot path nothing.
#[derive(Clone)]
pub struct Stores {
    /// Artists by normalized name or alias.
    pub artists: Arc<dyn ArtistStore>,
    /// The related-artists datamart.
    pub related: Arc<dyn RelatedStore>,
    /// The top-tracks cache.
    pub top_tracks: Arc<dyn TopTracksCache>,
    /// Pending requests (publish-once dedup) and who asked.
    pub requests: Arc<dyn RequestLog>,
    /// The event bus.
    pub events: Arc<dyn EventPublisher>,
}

impl Stores {
    /// One store serving every storage port (the embedded SQLite store), and a bus.
    pub fn shared<S>(store: Arc<S>, events: Arc<dyn EventPublisher>) -> Self
    where
        S: ArtistStore + RelatedStore + TopTracksCache + RequestLog + 'static,
    {
        Self {
            artists: store.clone(),
            related: store.clone(),
            top_tracks: store.clone(),
            requests: store,
            events,
        }
    }
}
