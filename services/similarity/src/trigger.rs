//! What starts the job in Lambda: the daily EventBridge schedule, the catch-up schedule
//! (a scheduled event whose detail has `"catch_up": true`) or a `SimilarityRequested`
//! event on the bus. All arrive as an EventBridge event; anything else is refused.

use encore_domain::events::{BusEvent, SimilarityRequested};
use encore_messaging::{decode_envelope, BusEnvelope, DecodeError};

/// `detail-type` of the events an EventBridge schedule rule sends.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";
/// The detail field that makes a scheduled event the catch-up tick.
pub const CATCH_UP_FIELD: &str = "catch_up";

/// Why the job was started.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// The daily schedule (03:00 in Seoul).
    Schedule,
    /// The catch-up schedule: the job runs only when artists were ingested since the
    /// datamart's lake read ([`crate::catch_up`]).
    CatchUp,
    /// An operator or another service asked for a run.
    Requested(SimilarityRequested),
}

/// An event the job does not run for: the invocation fails with this reason.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("the similarity job runs on {SCHEDULED_EVENT:?} or SimilarityRequested, not {0:?}")]
    Unsupported(String),
    #[error(transparent)]
    Malformed(#[from] DecodeError),
}

impl TryFrom<BusEnvelope> for Trigger {
    type Error = TriggerError;

    fn try_from(envelope: BusEnvelope) -> Result<Self, Self::Error> {
        if envelope.detail_type == SCHEDULED_EVENT {
            let catch_up = envelope
                .detail
                .get(CATCH_UP_FIELD)
                .and_then(|value| value.as_bool())
                == Some(true);
            Ok(if catch_up {
                Self::CatchUp
            } else {
                Self::Schedule
            })
        } else if envelope.detail_type == SimilarityRequested::DETAIL_TYPE {
            Ok(Self::Requested(decode_envelope(envelope)?))
        } else {
            Err(TriggerError::Unsupported(envelope.detail_type))
        }
    }
}

impl Trigger {
    /// Who or what started the run, for the logs.
    pub fn origin(&self) -> &str {
        match self {
            Self::Schedule => "schedule",
            Self::CatchUp => "catch-up schedule",
            Self::Requested(request) => request
                .requested_by
                .as_deref()
                .unwrap_or("unnamed requester"),
        }
    }
}
