//! An answer as the chat sends it: its kind, the Kakao response and its JSON body,
//! serialized once. The use case ([`crate::skill`]) makes answers and the cache
//! ([`crate::cache`]) keeps them; neither depends on the other for the type.

use std::sync::Arc;

use bytes::Bytes;
use encore_kakao::SkillResponse;

/// What kind of answer was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    /// A known artist with similar artists.
    Related,
    /// A known artist whose similar artists are not computed yet.
    WithoutRelated,
    /// Unknown artist, callback acknowledged: ingest completes the answer.
    Waiting,
    /// Unknown artist, being looked up: the user asks again.
    LookingUp,
    /// Ingest found no such artist within the last day: "not found", with suggestions.
    NotFound,
    /// Ingest gave up on the last request for the name; requested again.
    Retrying,
    /// Blank or meaningless input.
    Help,
    /// Something failed on encore's side.
    Failure,
}

/// An answer with its JSON body, serialized once (cached answers are served as is).
#[derive(Debug, Clone)]
pub struct Answer {
    pub kind: AnswerKind,
    pub response: Arc<SkillResponse>,
    /// `response` as sent.
    pub body: Bytes,
}

impl Answer {
    /// Serializes `response`.
    pub fn new(kind: AnswerKind, response: SkillResponse) -> Self {
        // Serializing a response (strings, vectors and maps with string keys) cannot fail.
        let body = serde_json::to_vec(&response)
            .map(Bytes::from)
            .unwrap_or_default();
        Self {
            kind,
            response: Arc::new(response),
            body,
        }
    }
}
