//! encore's messaging: the event bus and queue ports, inbound batch translation (an SQS
//! event or an embedded receive into messages, outcomes back), dead-letter replay, and the
//! adapters: SQS and EventBridge (features `sqs`, `eventbridge`, both: `aws`), the SQLite queue and the in-process bus
//! (feature `embedded`). Both sides pass the same conformance suite (`tests/`).

#[cfg(feature = "embedded")]
pub mod embedded_bus;
#[cfg(feature = "embedded")]
pub mod embedded_queue;
pub mod envelope;
#[cfg(feature = "eventbridge")]
pub mod eventbridge;
pub mod inbound;
pub mod ports;
pub mod replay;
#[cfg(feature = "sqs")]
pub mod sqs;

/// The error every messaging port returns, shared with `encore-store`.
pub use encore_backend::BackendError;
pub use envelope::{decode, decode_envelope, BusEnvelope, DecodeError};
pub use ports::*;
