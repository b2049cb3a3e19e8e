//! The Kakao i Open Builder skill contract: request and response models, Kakao's limits,
//! and the card rendering of encore's answers.
//!
//! - [`request`]: the skill payload Kakao POSTs (lenient: only the utterance and the user
//!   id are required).
//! - [`response`]: the version 2.0 answer, serialized exactly as Kakao reads it.
//! - [`limits`]: every Kakao limit and [`limits::validate`], which checks an answer.
//! - [`render`]: encore's answers (artist cards, looking up, help, failure), always valid.
//! - [`callback`]: which callback URLs may be used.

pub mod callback;
pub mod limits;
pub mod render;
pub mod request;
pub mod response;

pub use limits::{validate, LimitViolation};
pub use render::{ArtistCard, LatestRelease, RelatedDue};
pub use request::SkillRequest;
pub use response::SkillResponse;
