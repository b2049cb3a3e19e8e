//! The envelope events travel in: an EventBridge entry as the bus delivers it to a queue
//! target (and as the embedded bus stores it), and decoding a queue message body back into
//! an event.

use chrono::{DateTime, Utc};
use encore_domain::events::BusEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An event as EventBridge delivers it to a queue target (and as the embedded bus stores
/// it). moto leaves out `account`, and AWS may add fields, so all but the routing fields
/// are optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusEnvelope {
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default)]
    pub time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    pub detail: serde_json::Value,
}

impl BusEnvelope {
    /// Wraps an event the way EventBridge would deliver it.
    pub fn wrap<E: BusEvent>(event: &E, source: &str) -> Result<Self, DecodeError> {
        Ok(Self {
            version: Some("0".into()),
            id: Some(Uuid::new_v4().to_string()),
            detail_type: E::DETAIL_TYPE.into(),
            source: source.into(),
            account: None,
            time: Some(event.meta().occurred_at),
            region: None,
            resources: Vec::new(),
            detail: serde_json::to_value(event).map_err(DecodeError::Json)?,
        })
    }
}

/// Why a queue message could not be turned into an event. Every variant is permanent:
/// the message will fail the same way on every delivery and belongs in the DLQ.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("message is not a bus event: {0}")]
    Json(#[source] serde_json::Error),
    #[error("expected detail-type {expected}, got {got}")]
    WrongType { expected: &'static str, got: String },
    #[error(
        "{detail_type} version {got} is not supported (this consumer reads version {supported})"
    )]
    UnsupportedVersion {
        detail_type: &'static str,
        got: u64,
        supported: u32,
    },
    #[error("{detail_type} detail has no integer version")]
    MissingVersion { detail_type: &'static str },
    #[error("{detail_type} detail is malformed: {source}")]
    Detail {
        detail_type: &'static str,
        source: serde_json::Error,
    },
}

/// Decodes a queue message body (an EventBridge envelope) into event `E`, rejecting
/// other detail types and unknown major versions; unknown fields are accepted.
pub fn decode<E: BusEvent>(body: &str) -> Result<E, DecodeError> {
    let envelope: BusEnvelope = serde_json::from_str(body).map_err(DecodeError::Json)?;
    decode_envelope(envelope)
}

/// Like [`decode`], for an envelope already parsed.
pub fn decode_envelope<E: BusEvent>(envelope: BusEnvelope) -> Result<E, DecodeError> {
    if envelope.detail_type != E::DETAIL_TYPE {
        return Err(DecodeError::WrongType {
            expected: E::DETAIL_TYPE,
            got: envelope.detail_type,
        });
    }
    let version = envelope
        .detail
        .get("version")
        .and_then(serde_json::Value::as_u64)
        .ok_or(DecodeError::MissingVersion {
            detail_type: E::DETAIL_TYPE,
        })?;
    if version != u64::from(E::VERSION) {
        return Err(DecodeError::UnsupportedVersion {
            detail_type: E::DETAIL_TYPE,
            got: version,
            supported: E::VERSION,
        });
    }
    serde_json::from_value(envelope.detail).map_err(|source| DecodeError::Detail {
        detail_type: E::DETAIL_TYPE,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use encore_domain::events::{
        ArtistIngested, ArtistRequested, EventMeta, RequestReason, SOURCE_CHAT,
    };

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
    fn wrap_then_decode_round_trips() {
        let event = requested();
        let body = serde_json::to_string(&BusEnvelope::wrap(&event, SOURCE_CHAT).unwrap()).unwrap();
        let back: ArtistRequested = decode(&body).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn rejects_other_types_and_versions() {
        let event = requested();
        let mut envelope = BusEnvelope::wrap(&event, SOURCE_CHAT).unwrap();
        let body = serde_json::to_string(&envelope).unwrap();
        assert!(matches!(
            decode::<ArtistIngested>(&body),
            Err(DecodeError::WrongType { .. })
        ));
        envelope.detail["version"] = 2.into();
        let body = serde_json::to_string(&envelope).unwrap();
        assert!(matches!(
            decode::<ArtistRequested>(&body),
            Err(DecodeError::UnsupportedVersion { got: 2, .. })
        ));
        assert!(matches!(
            decode::<ArtistRequested>("not json"),
            Err(DecodeError::Json(_))
        ));
    }

    #[test]
    fn accepts_unknown_fields() {
        let event = requested();
        let mut envelope = BusEnvelope::wrap(&event, SOURCE_CHAT).unwrap();
        envelope.detail["added_later"] = "x".into();
        let mut raw = serde_json::to_value(&envelope).unwrap();
        raw["replay-name"] = "r".into();
        let back: ArtistRequested = decode(&raw.to_string()).unwrap();
        assert_eq!(back, event);
    }
}
