//! The replay service: moves dead-lettered messages back to their source queue once the
//! cause of their failure is fixed.
//!
//! The same [`handle`] serves the Lambda (an operator's `{"queue":"ingest","dry_run":true}`
//! invocation, on SQS) and the `encore replay` command (on SQS or the embedded queue): it
//! only sees [`QueuePairs`] of the queue port.

mod handler;
mod queues;

pub use handler::{handle, ReplayError, ReplayRequest, ReplaySummary, ReplayedEvent};
pub use queues::{QueueName, QueuePair, QueuePairs, QueueUrls, UnknownQueue};
