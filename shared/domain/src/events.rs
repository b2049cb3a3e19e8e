//! The events the services pass over the bus (the envelope they travel in is
//! `encore-messaging`'s).
//!
//! Each event is one EventBridge entry: `source` = `encore.<service>`, `detail-type` = the
//! event name, `detail` = the event as JSON. The JSON Schemas in `events/schemas/` describe
//! the same `detail` shapes; a test keeps the two in step.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{Artist, AudioFeatures, Track};
use crate::release::Release;

/// `source` of events published by the chat service.
pub const SOURCE_CHAT: &str = "encore.chat";
/// `source` of events published by the ingest service.
pub const SOURCE_INGEST: &str = "encore.ingest";
/// `source` of events published by operators and schedules (CLI, refresh, manual runs).
pub const SOURCE_OPS: &str = "encore.ops";

/// Fields every event carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventMeta {
    /// Major version of the event's shape; consumers reject majors they do not know.
    pub version: u32,
    /// Idempotency key: a redelivered event keeps its id.
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
}

impl EventMeta {
    /// Metadata for a new event of version `version` with a random id.
    pub fn new(version: u32) -> Self {
        Self::with_id(version, Uuid::new_v4())
    }

    /// Metadata with a given id, for events whose id is derived from their cause.
    pub fn with_id(version: u32, id: Uuid) -> Self {
        Self {
            version,
            id,
            occurred_at: Utc::now(),
        }
    }
}

/// An event type that travels on the bus.
pub trait BusEvent: Serialize + DeserializeOwned {
    /// EventBridge `detail-type`.
    const DETAIL_TYPE: &'static str;
    /// The major version this code writes and understands.
    const VERSION: u32;
    /// The common fields.
    fn meta(&self) -> &EventMeta;
}

/// Why an artist is being (re)ingested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestReason {
    /// A chat user asked for an artist the cache did not know.
    #[default]
    User,
    /// The daily refresh of artists asked about recently.
    Refresh,
    /// An operator's bulk load.
    Backfill,
}

impl RequestReason {
    /// The field of `ArtistRequested`'s detail that carries the reason: bus rules route
    /// refreshes to their own queue by it.
    pub const FIELD: &'static str = "reason";
    /// [`RequestReason::Refresh`] as the detail spells it.
    pub const REFRESH: &'static str = "refresh";
}

/// A user asked for an artist the cache does not know yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtistRequested {
    #[serde(flatten)]
    pub meta: EventMeta,
    /// What the user typed.
    pub query: String,
    /// `query` normalized; the dedup key of pending requests.
    pub normalized: String,
    /// Opaque Kakao user key; never shown or logged in full.
    #[serde(default)]
    pub requested_by: Option<String>,
    /// Kakao's one-time callback URL, when the block has callbacks enabled.
    #[serde(default)]
    pub callback_url: Option<String>,
    /// Correlates the chat request with the ingest that answers it.
    pub request_id: String,
    #[serde(default)]
    pub reason: RequestReason,
}

impl BusEvent for ArtistRequested {
    const DETAIL_TYPE: &'static str = "ArtistRequested";
    const VERSION: u32 = 1;
    fn meta(&self) -> &EventMeta {
        &self.meta
    }
}

/// Ingest stored an artist: its catalog data, top tracks and their audio features
/// (tracks without features simply have no entry in `features`), and its latest releases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtistIngested {
    #[serde(flatten)]
    pub meta: EventMeta,
    /// The query that led to this artist.
    pub query: String,
    pub artist: Artist,
    pub tracks: Vec<Track>,
    pub features: Vec<AudioFeatures>,
    /// The artist's own newest releases, newest first (absent in events written before
    /// releases were fetched, hence the default).
    #[serde(default)]
    pub releases: Vec<Release>,
}

impl BusEvent for ArtistIngested {
    const DETAIL_TYPE: &'static str = "ArtistIngested";
    const VERSION: u32 = 1;
    fn meta(&self) -> &EventMeta {
        &self.meta
    }
}

/// A manual trigger of the daily similarity job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarityRequested {
    #[serde(flatten)]
    pub meta: EventMeta,
    /// Who asked (an operator name or "schedule").
    #[serde(default)]
    pub requested_by: Option<String>,
    /// Replace the datamart even when the job's shrink guard refuses the run.
    #[serde(default)]
    pub force: bool,
}

impl BusEvent for SimilarityRequested {
    const DETAIL_TYPE: &'static str = "SimilarityRequested";
    const VERSION: u32 = 1;
    fn meta(&self) -> &EventMeta {
        &self.meta
    }
}

/// The event id of the `ArtistIngested` that answers a request: derived from the request's
/// id, so processing the same request twice publishes one logical event.
pub fn ingested_id_for(request: &ArtistRequested) -> Uuid {
    Uuid::new_v5(&request.meta.id, b"ArtistIngested")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requested() -> ArtistRequested {
        ArtistRequested {
            meta: EventMeta::new(1),
            query: "BTS".into(),
            normalized: "bts".into(),
            requested_by: None,
            callback_url: None,
            request_id: "r1".into(),
            reason: RequestReason::User,
        }
    }

    #[test]
    fn the_refresh_reason_is_spelled_as_the_rules_match_it() {
        let mut event = requested();
        event.reason = RequestReason::Refresh;
        let detail = serde_json::to_value(&event).unwrap();
        assert_eq!(detail[RequestReason::FIELD], RequestReason::REFRESH);
    }

    #[test]
    fn ingested_id_is_stable() {
        let event = requested();
        assert_eq!(ingested_id_for(&event), ingested_id_for(&event.clone()));
        assert_ne!(ingested_id_for(&event), event.meta.id);
    }
}
