//! The ports the chat reads and writes, bundled so the service is generic over one type.

use std::sync::Arc;

use encore_store::{ArtistStore, EventPublisher, RelatedStore, RequestLog, TopTracksCache};

/// The stores the chat needs. Implemented by [`Stores`]; handlers are generic over it.
pub trait ChatPorts: Send + Sync + 'static {
    type Artists: ArtistStore + ?Sized;
    type Related: RelatedStore + ?Sized;
    type TopTracks: TopTracksCache + ?Sized;
    type Requests: RequestLog + ?Sized;
    type Events: EventPublisher + ?Sized;

    /// Artists by normalized name or alias.
    fn artists(&self) -> &Self::Artists;
    /// The related-artists datamart.
    fn related(&self) -> &Self::Related;
    /// The top-tracks cache.
    fn top_tracks(&self) -> &Self::TopTracks;
    /// Pending requests (publish-once dedup).
    fn requests(&self) -> &Self::Requests;
    /// The event bus.
    fn events(&self) -> &Self::Events;
}

/// One adapter per port, shared: the same store may serve several ports, and `dyn` ports
/// work too (`Arc<dyn ArtistStore>`) where the runner picks adapters at run time.
pub struct Stores<A: ?Sized, R: ?Sized, T: ?Sized, L: ?Sized, P: ?Sized> {
    pub artists: Arc<A>,
    pub related: Arc<R>,
    pub top_tracks: Arc<T>,
    pub requests: Arc<L>,
    pub events: Arc<P>,
}

impl<S: ?Sized, P: ?Sized> Stores<S, S, S, S, P> {
    /// One store serving every storage port (the embedded SQLite store), and a bus.
    pub fn shared(store: Arc<S>, events: Arc<P>) -> Self {
        Self {
            artists: store.clone(),
            related: store.clone(),
            top_tracks: store.clone(),
            requests: store,
            events,
        }
    }
}

impl<A, R, T, L, P> ChatPorts for Stores<A, R, T, L, P>
where
    A: ArtistStore + ?Sized + 'static,
    R: RelatedStore + ?Sized + 'static,
    T: TopTracksCache + ?Sized + 'static,
    L: RequestLog + ?Sized + 'static,
    P: EventPublisher + ?Sized + 'static,
{
    type Artists = A;
    type Related = R;
    type TopTracks = T;
    type Requests = L;
    type Events = P;

    fn artists(&self) -> &A {
        &self.artists
    }
    fn related(&self) -> &R {
        &self.related
    }
    fn top_tracks(&self) -> &T {
        &self.top_tracks
    }
    fn requests(&self) -> &L {
        &self.requests
    }
    fn events(&self) -> &P {
        &self.events
    }
}
