//! Replay: dead-lettered messages go back to their source queue once the cause is fixed.
//!
//! receive → send to the source → delete from the dead-letter queue, on SQS (which offers
//! `StartMessageMoveTask`, but that lists nothing and the emulator lacks it) and on the
//! embedded queue alike, so a dry run can list every message it would move.

use std::collections::HashSet;
use std::time::Duration;

use crate::{BackendError, Queue, QueueMessage, MAX_RECEIVE_BATCH};

/// How long each receive waits: long enough that SQS answers from all its servers (a
/// zero wait samples only some and may miss messages).
const RECEIVE_WAIT: Duration = Duration::from_secs(1);

/// One dead-lettered message replay moved (or, in a dry run, would move).
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayedMessage {
    /// Its id in the dead-letter queue.
    pub id: String,
    pub body: String,
    /// Its id in the source queue; `None` in a dry run.
    pub new_id: Option<String>,
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplayReport {
    pub dry_run: bool,
    /// Each message moved (or that would move), in the order received.
    pub messages: Vec<ReplayedMessage>,
}

/// Moves every message of `dead_letters` back to `source` until the dead-letter queue is
/// empty. With `dry_run` it only lists them: each is received, noted and given back.
/// Each message is handled once: one received again (a dry run's or a slow delete's) ends
/// the pass instead of looping on it.
pub async fn replay(
    dead_letters: &dyn Queue,
    source: &dyn Queue,
    dry_run: bool,
) -> Result<ReplayReport, BackendError> {
    let mut report = ReplayReport {
        dry_run,
        messages: Vec::new(),
    };
    let mut held = Vec::new();
    let outcome = drain(dead_letters, source, &mut report, &mut held).await;
    for receipt in held {
        dead_letters.release(&receipt).await?;
    }
    outcome.map_err(|err| {
        tracing::error!(from = dead_letters.name(), to = source.name(), moved = report.messages.len(), error = %err,
            "replay stopped");
        err
    })?;
    Ok(report)
}

/// The replay loop; receipts to give back at the end go to `held`.
async fn drain(
    dead_letters: &dyn Queue,
    source: &dyn Queue,
    report: &mut ReplayReport,
    held: &mut Vec<String>,
) -> Result<(), BackendError> {
    let mut seen = HashSet::new();
    loop {
        let batch = dead_letters
            .receive(MAX_RECEIVE_BATCH, RECEIVE_WAIT)
            .await?;
        let (fresh, again): (Vec<QueueMessage>, Vec<QueueMessage>) = batch
            .into_iter()
            .partition(|message| !seen.contains(&message.id));
        held.extend(again.into_iter().map(|message| message.receipt));
        if fresh.is_empty() {
            return Ok(());
        }
        for message in fresh {
            seen.insert(message.id.clone());
            let new_id = if report.dry_run {
                held.push(message.receipt);
                None
            } else {
                let new_id = source.send(&message.body).await?;
                dead_letters.delete(&message.receipt).await?;
                tracing::info!(from = dead_letters.name(), to = source.name(), message_id = %message.id,
                    new_id = %new_id, "replayed a dead-lettered message");
                Some(new_id)
            };
            report.messages.push(ReplayedMessage {
                id: message.id,
                body: message.body,
                new_id,
            });
        }
    }
}
